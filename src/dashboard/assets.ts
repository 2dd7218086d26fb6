/**
 * The dashboard's stylesheet and its one small script, inside the binary as strings: no CDN, no web
 * fonts (the system's own), dark and light by `prefers-color-scheme`, readable on a phone. The page
 * works without the script; it adds drag and drop to the upload form and a confirmation to buttons
 * that change the fleet.
 */
export const STYLE = `
:root { color-scheme: light dark; --bg: #fbfbfa; --fg: #1d2125; --muted: #5e6770; --line: #d9dde1; --card: #ffffff;
  --accent: #0b63c9; --ok: #1a7f37; --warn: #9a6700; --bad: #c62828; --focus: #f5a623;
  --s0: #1a7f37; --s1: #0b63c9; --s2: #9a6700; --s3: #8250df; --s4: #c62828; --s5: #1b7c83; --s6: #5e6770; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171a; --fg: #e6e9ec; --muted: #9aa4ad; --line: #2f363d; --card: #1c2024;
  --accent: #6cb6ff; --ok: #57ab5a; --warn: #c69026; --bad: #ef6f6c;
  --s0: #57ab5a; --s1: #6cb6ff; --s2: #c69026; --s3: #b083f0; --s4: #ef6f6c; --s5: #39c5cf; --s6: #9aa4ad; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--card); padding: 6px; z-index: 2; }
header { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; padding: 10px 16px; border-bottom: 1px solid var(--line); background: var(--card); }
header .brand { font-weight: 700; margin-right: 8px; }
header nav { display: flex; flex-wrap: wrap; gap: 4px; }
header nav a { padding: 6px 10px; border-radius: 6px; text-decoration: none; }
header nav a[aria-current="page"] { background: var(--accent); color: var(--bg); }
header .who { margin-left: auto; display: flex; gap: 8px; align-items: center; color: var(--muted); }
main { padding: 16px; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.4rem; margin: 4px 0 12px; } h2 { font-size: 1.1rem; margin: 20px 0 8px; } h3 { font-size: 0.95rem; margin: 12px 0 6px; color: var(--muted); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 12px 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; word-break: break-all; }
.muted { color: var(--muted); } .pre { white-space: pre-wrap; margin: 0; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; border: 1px solid var(--line); }
.badge.ok { color: var(--ok); border-color: var(--ok); } .badge.bad { color: var(--bad); border-color: var(--bad); } .badge.warn { color: var(--warn); border-color: var(--warn); }
form.inline { display: inline; }
.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; }
label { display: flex; flex-direction: column; gap: 2px; font-size: 13px; color: var(--muted); }
input, select, button { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; min-height: 36px; }
button { cursor: pointer; background: var(--accent); color: var(--bg); border-color: var(--accent); font-weight: 600; }
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.flash { padding: 8px 12px; border-radius: 6px; margin: 8px 0; border: 1px solid; }
.flash.ok { color: var(--ok); border-color: var(--ok); } .flash.error { color: var(--bad); border-color: var(--bad); }
.pager { display: flex; gap: 12px; align-items: center; margin: 10px 0; }
.drop { border: 2px dashed var(--line); border-radius: 8px; padding: 18px; text-align: center; color: var(--muted); }
.drop.over { border-color: var(--accent); color: var(--accent); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 12px; }
svg.chart { width: 100%; height: auto; max-width: 520px; }
svg.chart text { fill: var(--fg); font-size: 11px; }
svg.chart .exposed { fill: var(--accent); } svg.chart .verified { fill: var(--ok); } svg.chart .rolled_back { fill: var(--warn); }
svg.chart .timed_out { fill: var(--muted); } svg.chart .failed { fill: var(--bad); } svg.chart .track { fill: var(--line); }
svg.chart polyline.line { fill: none; stroke-width: 2.5; } svg.chart polyline.exposed { stroke: var(--accent); }
svg.chart polyline.verified { stroke: var(--ok); } svg.chart polyline.failed { stroke: var(--bad); }
.s0 { --c: var(--s0); } .s1 { --c: var(--s1); } .s2 { --c: var(--s2); } .s3 { --c: var(--s3); } .s4 { --c: var(--s4); } .s5 { --c: var(--s5); } .s6 { --c: var(--s6); }
svg.chart path.area { fill: var(--c); fill-opacity: 0.85; stroke: var(--card); stroke-width: 0.5; }
figure.versions { margin: 0; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0; margin: 4px 0; font-size: 13px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; background: var(--c); }
.versions-table { max-width: 520px; margin-top: 6px; }
.versions-table caption { text-align: left; font-size: 13px; }
.login { max-width: 380px; margin: 10vh auto; }
.login form { display: flex; flex-direction: column; gap: 12px; }
@media (max-width: 640px) { main { padding: 10px; } th.wide, td.wide { display: none; } }
`;

export const SCRIPT = `
document.addEventListener('submit', function (e) {
  var f = e.target;
  if (f && f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
});
(function () {
  var zone = document.getElementById('drop');
  var input = document.getElementById('upload-file');
  if (!zone || !input) return;
  var name = document.getElementById('drop-name');
  function show() { if (name) name.textContent = input.files.length ? input.files[0].name + ' (' + input.files[0].size + ' bytes)' : ''; }
  ['dragenter', 'dragover'].forEach(function (t) { zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add('over'); }); });
  ['dragleave', 'drop'].forEach(function (t) { zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove('over'); }); });
  zone.addEventListener('drop', function (e) { if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); } });
  input.addEventListener('change', show);
})();
`;
