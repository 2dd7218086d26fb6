/**
 * Releases per stream: the versions the source has, and for each one built into the cache its
 * verification (who signed), hashes, size and channel; yank and pin from here, and upload into a
 * local folder source. The page asks the sources for their version lists (at most 2 s each).
 */
import semver from 'semver';
import type { Runtime } from '../../runtime.ts';
import type { FleetService } from '../../fleet/service.ts';
import { Status } from '../../ops/status.ts';
import { deviceRef } from '../../core/composition.ts';
import { streamMatches } from '../../fleet/model.ts';
import { bytes, html, when } from '../html.ts';
import { BASE, csrfField, page } from '../layout.ts';
import type { Session } from '../sessions.ts';
import { folderOf } from '../upload.ts';

const SOURCE_WAIT_MS = 2000;

/** The source's versions of a stream (normalised), or an error line; never waits more than 2 s. */
export async function sourceVersions(rt: Runtime, stream: string): Promise<string[]> {
  const comp = rt.settings.composer.for(stream);
  if (!comp) return [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('the source did not answer within 2 s')), SOURCE_WAIT_MS); });
  try {
    return (await Promise.race([comp.source.versions(deviceRef(stream, comp)), late])).map((v) => v.version);
  } finally {
    clearTimeout(timer);
  }
}

function channelOf(version: string): string {
  const pre = semver.prerelease(version);
  return pre && typeof pre[0] === 'string' ? pre[0] : 'stable';
}

export async function releasesPage(rt: Runtime, fleet: FleetService | undefined, session: Session): Promise<Response> {
  const built = await new Status(rt, rt.tracker).releases();
  const state = fleet?.decisionState();
  const streams = new Set<string>([...rt.settings.composer.namedDevices(), ...rt.resolver.snapshot().map((s) => s.device), ...built.map((r) => r.device), ...((await fleet?.store.streams().catch(() => [])) ?? [])]);
  const sections = await Promise.all([...streams].sort().map(async (stream) => {
    let versions: string[] = [];
    let error = '';
    try {
      versions = await sourceVersions(rt, stream);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const mine = built.filter((r) => r.device === stream);
    const all = [...new Set([...versions, ...mine.map((r) => r.version)])].filter((v) => semver.valid(v)).sort(semver.rcompare);
    let uploadable = true;
    try { folderOf(rt.settings, stream); } catch { uploadable = false; }
    return { stream, error, uploadable, rows: all.map((v) => ({ version: v, release: mine.find((r) => r.version === v), inSource: versions.includes(v), yanked: state?.yanks.some((y) => y.version === v && streamMatches(y.stream, stream)) ?? false })) };
  }));
  const canChange = session.operator.role === 'operator' && fleet !== undefined;
  const uploadTargets = sections.filter((s) => s.uploadable).map((s) => s.stream);
  return page('Releases', 'releases', session, html`<h1>Releases</h1>
${session.operator.role === 'operator' ? html`<section class="card" aria-labelledby="up"><h2 id="up">Upload a release (local folder source)</h2>
<form method="post" action="${BASE}/releases/upload" enctype="multipart/form-data" class="filters">${csrfField(session)}
<label for="upload-stream">Device group (stream)<input id="upload-stream" name="stream" list="upload-streams" required></label>
<datalist id="upload-streams">${uploadTargets.map((s) => html`<option value="${s}">`)}</datalist>
<label for="upload-version">Version (semver)<input id="upload-version" name="version" required placeholder="1.2.0"></label>
<div id="drop" class="drop"><label for="upload-file">Firmware file: drop it here or choose it<input id="upload-file" name="file" type="file" required></label><span id="drop-name" aria-live="polite"></span></div>
<button type="submit">Upload</button></form>
<p class="muted">At most ${bytes(rt.settings.admin.uploadMaxBytes)}; an existing version is never replaced.</p></section>` : ''}
${sections.map((s) => html`<section class="card" aria-labelledby="s-${s.stream}"><h2 id="s-${s.stream}">${s.stream}</h2>
${s.error ? html`<p class="flash error">source: ${s.error}</p>` : ''}
<div class="table-wrap"><table><thead><tr><th scope="col">Version</th><th scope="col">Channel</th><th scope="col">Verification</th><th scope="col">Size</th><th scope="col" class="wide">SHA-256 · CRC-32</th><th scope="col">Actions</th></tr></thead>
<tbody>${s.rows.map((r) => html`<tr><td>${r.version}${r.yanked ? html` <span class="badge bad">yanked</span>` : ''}${r.inSource ? '' : html` <span class="badge warn">not in source</span>`}</td>
<td>${channelOf(r.version)}</td>
<td>${r.release ? html`<span class="badge ok">verified</span> <span class="mono">${r.release.verifiedBy}</span>` : html`<span class="muted">not checked yet (no device asked)</span>`}</td>
<td>${r.release ? bytes(r.release.size) : '–'}</td>
<td class="wide mono">${r.release ? html`${r.release.sha256}<br>${r.release.crc32} · built ${when(Date.parse(r.release.createdAt))}` : '–'}</td>
<td>${canChange ? html`${r.yanked ? '' : html`<form class="inline" method="post" action="${BASE}/releases/yank" data-confirm="Yank ${s.stream} ${r.version}? It is never offered again.">${csrfField(session)}
<input type="hidden" name="stream" value="${s.stream}"><input type="hidden" name="version" value="${r.version}"><button class="danger" type="submit" aria-label="Yank ${s.stream} ${r.version}">Yank</button></form>`}
<form class="inline" method="post" action="${BASE}/releases/pin">${csrfField(session)}<input type="hidden" name="stream" value="${s.stream}"><input type="hidden" name="version" value="${r.version}">
<label class="skip" for="pin-${s.stream}-${r.version}">Instances to pin (empty: the whole stream)</label><input id="pin-${s.stream}-${r.version}" name="instances" placeholder="instances, comma-separated" size="14">
<button class="secondary" type="submit" aria-label="Pin ${s.stream} to ${r.version}">Pin</button></form>` : ''}</td></tr>`)}</tbody></table></div></section>`)}
<section class="card" aria-labelledby="pins"><h2 id="pins">Pins</h2>
<div class="table-wrap"><table><thead><tr><th scope="col">Id</th><th scope="col">Stream</th><th scope="col">Version</th><th scope="col">Instances</th><th scope="col">Reason</th><th scope="col">Actions</th></tr></thead>
<tbody>${(state?.pins ?? []).map((p) => html`<tr><td>${p.id}</td><td>${p.stream}</td><td>${p.version}</td><td class="mono">${p.instances.length ? p.instances.join(', ') : 'the whole stream'}</td><td>${p.reason ?? ''}</td>
<td>${canChange ? html`<form class="inline" method="post" action="${BASE}/pins/delete">${csrfField(session)}<input type="hidden" name="id" value="${p.id}"><button class="secondary" type="submit" aria-label="Remove pin ${p.id}">Remove</button></form>` : ''}</td></tr>`)}</tbody></table></div></section>`);
}
