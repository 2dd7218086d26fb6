/**
 * First-download latency through source.oci (not a test): for each size, N devices that were never
 * fetched get their first `GET /firmware` (tags → manifest → blob → verify → hash → disk cache →
 * response), beside the same bytes pulled straight from the registry (manifest + blob by digest,
 * the floor any OCI-backed server pays) and served by nginx from a file, in the same run.
 *
 *     bun bench/oci-first-download.ts [--devices 15] [--sizes 1,8]   (sizes in MiB)
 *
 * Prints one line per size and path: median and p95 milliseconds.
 */
import { chmod, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, seedFirmware } from '../test/support/registry.ts';
import { startTestServer } from '../test/support/server.ts';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '15' }, sizes: { type: 'string', default: '1,8' } } });
const devicesPerSize = Number(values.devices);
const sizes = String(values.sizes).split(',').map((s) => Number(s) << 20);

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms`;
}

async function timed(url: string, init?: RequestInit): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const r = await fetch(url, init);
  const bytes = (await r.arrayBuffer()).byteLength;
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return { ms: performance.now() - t0, bytes };
}

/** nginx (1 worker, sendfile) serving `dir` on a free loopback port. */
async function startNginx(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server { listen 127.0.0.1:${port}; root ${dir}/www; default_type application/octet-stream; } }`);
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const p = Bun.spawn(['nginx', '-c', conf, '-p', dir], { stdout: 'ignore', stderr: 'inherit' });
  for (let i = 0; i < 100; i++) {
    if (await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false)) break;
    await Bun.sleep(20);
  }
  return { url: `http://127.0.0.1:${port}`, async stop() { p.kill(); await p.exited; } };
}

const work = await mkdtemp(join(tmpdir(), 'otaflux-bench-oci-'));
// nginx workers may run as another user (www-data when started as root): let them read the files.
await chmod(work, 0o755);
try {
  for (const size of sizes) {
    const devices = Array.from({ length: devicesPerSize }, (_, i) => `dev${i}`);
    const { registry, firmware } = await seedFirmware({ devices, prefix: 'fw', size });
    await mkdir(join(work, 'www'), { recursive: true });
    for (const [d, bytes] of firmware) await writeFile(join(work, 'www', `${d}.bin`), bytes);
    const nginx = await startNginx(work);
    const server = await startTestServer({ flags: { 'registry-url': registry.host, 'registry-insecure': true, 'repository-prefix': 'fw', 'cache-dir': join(work, `cache-${size}`) } });
    const ota: number[] = [], direct: number[] = [], ngx: number[] = [];
    const accept = { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } };
    for (const d of devices) {
      const r = await timed(`${server.url}/firmware?device=${d}`);
      if (r.bytes !== size) throw new Error(`otaflux served ${r.bytes} bytes for ${d}, expected ${size}`);
      ota.push(r.ms);
      const t0 = performance.now();
      const m = (await (await fetch(`${registry.url}/v2/fw/${d}/manifests/1.0.0`, accept)).json()) as { layers: { digest: string }[] };
      await (await fetch(`${registry.url}/v2/fw/${d}/blobs/${m.layers[0]!.digest}`)).arrayBuffer();
      direct.push(performance.now() - t0);
      ngx.push((await timed(`${nginx.url}/${d}.bin`)).ms);
    }
    const mib = size >> 20;
    console.log(`${mib} MiB  otaflux first GET /firmware (cold): ${stats(ota)}`);
    console.log(`${mib} MiB  registry manifest+blob directly:     ${stats(direct)}`);
    console.log(`${mib} MiB  nginx static file:                   ${stats(ngx)}`);
    await server.close();
    await nginx.stop();
    await registry.close();
    await rm(join(work, 'www'), { recursive: true, force: true });
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
