/**
 * `bun bench/mtls.ts` (not a test): `/version` over mutual TLS, OtaFlux beside nginx doing the same
 * mTLS work on this machine, in the same run. Both verify the client certificate against the
 * same CA and check that its CN is the device asked for (OtaFlux: `mtls()`; nginx: `ssl_verify_client
 * on` and a CN check), and both answer the same 3-line body.
 *
 *   keep-alive   wrk -c16 over persistent connections (one handshake per connection)
 *   handshake    wrk -c16 with `Connection: close`: a full handshake per request (no resumption)
 *
 * wrk has no client-certificate option, so a 20-line LD_PRELOAD shim (compiled here with gcc) loads
 * the client certificate into wrk's SSL_CTX and turns session resumption off. Rounds are
 * interleaved (`--repeat 3`), medians reported; other work on the machine skews absolute numbers,
 * ratios less so. Needs: bun, nginx (Debian nginx-light), wrk, openssl, gcc.
 *
 *     bun bench/mtls.ts [--repeat 3] [--duration 5] [--connections 16] [--binary PATH] [--only keep-alive] [--json]
 *
 * Also prints CPU time per request (user + system from /proc/<pid>/stat, nginx's worker included).
 * `--binary`: run that OtaFlux executable instead of `bun src/main.ts`; `--json`: one JSON line with
 * the medians last (what `bun run bench` reads when it runs this file for its mTLS row).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { benchWorkspace, freePort, median } from './support.ts';

const { values: opt } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
    binary: { type: 'string' },
    only: { type: 'string', default: 'keep-alive,handshake' },
    json: { type: 'boolean', default: false },
  },
});
const MODES = new Set(String(opt.only).split(','));
const REPEAT = Number(opt.repeat);
const DURATION = `${Number(opt.duration)}s`;
const CONNECTIONS = String(Number(opt.connections));
const DEVICE = 'bench-dev';
const ROOT = resolve(import.meta.dir, '..');

const { work, children } = benchWorkspace('otaflux-bench-mtls-');

function run(cmd: string[], cwd = work): string {
  const r = Bun.spawnSync(cmd, { cwd, stdout: 'pipe', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`${cmd.slice(0, 3).join(' ')}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

// ---------------------------------------------------------------- PKI and the wrk shim
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
run(['openssl', 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bench ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
for (const [name, subject, ext] of [['server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'], ['client', `/CN=${DEVICE}`, 'extendedKeyUsage=clientAuth\n']] as const) {
  run(['openssl', 'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(work, `${name}.ext`), ext);
  run(['openssl', 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
}
chmodSync(join(work, 'server.key'), 0o644); // nginx workers may run as another user

writeFileSync(join(work, 'shim.c'), `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
typedef struct ssl_ctx_st SSL_CTX; typedef struct ssl_method_st SSL_METHOD;
int SSL_CTX_use_certificate_chain_file(SSL_CTX *, const char *);
int SSL_CTX_use_PrivateKey_file(SSL_CTX *, const char *, int);
unsigned long SSL_CTX_set_options(SSL_CTX *, unsigned long);
long SSL_CTX_ctrl(SSL_CTX *, int, long, void *);
/* Every SSL_CTX wrk makes gets the client certificate, and no session tickets or cache. */
SSL_CTX *SSL_CTX_new(const SSL_METHOD *m) {
  static SSL_CTX *(*real)(const SSL_METHOD *);
  if (!real) real = (SSL_CTX *(*)(const SSL_METHOD *))dlsym(RTLD_NEXT, "SSL_CTX_new");
  SSL_CTX *ctx = real(m);
  const char *cert = getenv("MTLS_CERT"), *key = getenv("MTLS_KEY");
  if (!ctx || !cert || !key) return ctx;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, 1 /* PEM */) != 1) abort();
  SSL_CTX_set_options(ctx, 1UL << 14 /* SSL_OP_NO_TICKET */);
  SSL_CTX_ctrl(ctx, 44 /* SSL_CTRL_SET_SESS_CACHE_MODE */, 0 /* SSL_SESS_CACHE_OFF */, 0);
  return ctx;
}
`);
run(['gcc', '-shared', '-fPIC', '-O2', '-o', 'shim.so', 'shim.c', '-ldl', '-lssl']);
const wrkEnv = { ...process.env, LD_PRELOAD: join(work, 'shim.so'), MTLS_CERT: join(work, 'client.crt'), MTLS_KEY: join(work, 'client.key') };

// ---------------------------------------------------------------- servers
const image = randomBytes(300_000);
mkdirSync(join(work, 'fw', DEVICE), { recursive: true });
writeFileSync(join(work, 'fw', DEVICE, '1.4.2.bin'), image);
const versionBody = `1.4.2\n${Bun.hash.crc32(image) >>> 0}\n${image.length}`;

interface Server { name: string; url: string; pid: number; stop(): Promise<void> }

async function curlVersion(url: string): Promise<string> {
  return run(['curl', '-sS', '--cacert', 'ca.crt', '--cert', 'client.crt', '--key', 'client.key', `${url}/version?device=${DEVICE}`]);
}

async function waitUp(url: string): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    try {
      if ((await curlVersion(url)) === versionBody) return;
    } catch { /* not yet */ }
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not serve the expected /version body in 20 s`);
}

async function startOtaFlux(): Promise<Server> {
  const port = freePort();
  writeFileSync(join(work, 'otaflux.config.ts'), `import { defineConfig, dir, mtls } from 'otaflux';
export default defineConfig({
  server: { listenAddr: false, metricsListenAddr: false, logLevel: 'warn', tls: { listenAddr: '127.0.0.1:${port}', cert: 'server.crt', key: 'server.key', clientCa: 'ca.crt' } },
  cache: { dir: 'cache' },
  devices: { '${DEVICE}': { source: dir({ root: 'fw' }), auth: mtls() } },
});
`);
  const profile = process.env.OTAFLUX_BENCH_PROFILE_DIR; // a CPU profile (markdown) of the OtaFlux process, written at exit
  const cmd = opt.binary ? [resolve(opt.binary)] : [process.execPath, ...(profile ? ['--cpu-prof-md', `--cpu-prof-dir=${profile}`] : []), join(ROOT, 'src/main.ts')];
  const p = Bun.spawn([...cmd, '--config', join(work, 'otaflux.config.ts')], { cwd: work, stdout: 'ignore', stderr: 'inherit' });
  children.push(p);
  const url = `https://127.0.0.1:${port}`;
  await waitUp(url);
  return { name: 'otaflux', url, pid: p.pid, stop: async () => { p.kill(); await p.exited; } };
}

async function startNginx(): Promise<Server> {
  const port = freePort();
  const dir = join(work, 'nginx');
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  // Same work as auth.mtls: chain to the CA, then the certificate's CN must be the device asked for.
  writeFileSync(join(dir, 'nginx.conf'), `worker_processes 1;
error_log ${dir}/error.log;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${work}/server.crt; ssl_certificate_key ${work}/server.key;
    ssl_client_certificate ${work}/ca.crt; ssl_verify_client on;
    location = /version {
      if ($ssl_client_s_dn != "CN=$arg_device") { return 403; }
      default_type "text/plain; charset=utf-8";
      return 200 "${versionBody.replaceAll('\n', '\\n')}";
    }
  }
}
`);
  const p = Bun.spawn(['nginx', '-c', join(dir, 'nginx.conf'), '-p', dir, '-g', 'daemon off;'], { stdout: 'ignore', stderr: 'inherit' });
  children.push(p);
  const url = `https://127.0.0.1:${port}`;
  await waitUp(url);
  return { name: 'nginx', url, pid: p.pid, stop: async () => { p.kill('SIGQUIT'); await p.exited; } };
}

/** User + system CPU ticks (10 ms) of a process and its children (nginx's worker). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let ticks = Number(f[11]) + Number(f[12]);
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  for (const k of kids ? kids.split(' ') : []) ticks += cpuTicks(Number(k));
  return ticks;
}

async function wrk(url: string, close: boolean): Promise<{ rps: number; requests: number; errors: string }> {
  const p = Bun.spawn(['wrk', '-t1', '-c', CONNECTIONS, '-d', DURATION, ...(close ? ['-H', 'Connection: close'] : []), `${url}/version?device=${DEVICE}`], { env: wrkEnv, stdout: 'pipe', stderr: 'pipe' });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (!Number.isFinite(rps)) throw new Error(`wrk ${url}: no result\n${out}${err}`);
  const errors = [/Non-2xx or 3xx responses: \d+/.exec(out)?.[0], /Socket errors:.*/.exec(out)?.[0]].filter(Boolean).join('; ');
  return { rps, requests, errors };
}

// ---------------------------------------------------------------- run
console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${navigator.hardwareConcurrency} CPUs); wrk -t1 -c${CONNECTIONS} -d${DURATION}, ${REPEAT} rounds, medians`);
const servers = [await startOtaFlux(), await startNginx()];
const results: Record<string, Record<string, number[]>> = {};
const cpu: Record<string, Record<string, number[]>> = {};
const errors: string[] = [];
for (let round = 0; round < REPEAT; round++) {
  for (const [mode, close] of [['keep-alive', false], ['handshake', true]] as const) {
    if (!MODES.has(mode)) continue;
    for (const s of servers) {
      const before = cpuTicks(s.pid);
      const r = await wrk(s.url, close);
      ((results[mode] ??= {})[s.name] ??= []).push(r.rps);
      ((cpu[mode] ??= {})[s.name] ??= []).push(((cpuTicks(s.pid) - before) * 10_000) / r.requests);
      if (r.errors) errors.push(`${s.name} ${mode}: ${r.errors}`);
    }
  }
}
await Promise.all(servers.map((s) => s.stop()));

console.log('\n| /version over mTLS | OtaFlux req/s | nginx (1 worker) req/s | OtaFlux / nginx | CPU per request OtaFlux / nginx |');
console.log('|---|---|---|---|---|');
const summary: Record<string, { otaflux: number; nginx: number; cpuOtaflux: number; cpuNginx: number }> = {};
for (const [mode, r] of Object.entries(results)) {
  const o = median(r.otaflux ?? []);
  const n = median(r.nginx ?? []);
  const co = median(cpu[mode]?.otaflux ?? []);
  const cn = median(cpu[mode]?.nginx ?? []);
  summary[mode] = { otaflux: o, nginx: n, cpuOtaflux: co, cpuNginx: cn };
  console.log(`| ${mode === 'handshake' ? 'full handshake per request' : 'keep-alive'} | ${o.toFixed(0)} | ${n.toFixed(0)} | ${(o / n).toFixed(2)} | ${co.toFixed(1)} µs / ${cn.toFixed(1)} µs |`);
}
console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
if (errors.length) console.log(`errors reported by wrk:\n  ${[...new Set(errors)].join('\n  ')}`);
if (opt.json) console.log(JSON.stringify({ mtls: summary }));
process.exit(0);
