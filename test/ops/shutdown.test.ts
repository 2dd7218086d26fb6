// Graceful shutdown of the real server process: SIGTERM while a slow device downloads a large image
// lets the download complete, refuses new connections, and exits 0; a download that never reads is
// cut after the drain bound and the process still exits 0.
import { expect, test } from 'bun:test';
import { connect, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { firmwareDir } from '../support/firmware-dir.ts';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');
const SIZE = 48 * 1024 * 1024;

async function startChild() {
  const fw = firmwareDir({ big: { '1.0.0.bin': SIZE } });
  const port = await freePort();
  const child = Bun.spawn(
    ['bun', MAIN, '--firmware-dir', fw.root, '--listen-addr', `127.0.0.1:${port}`, '--metrics-listen-addr', '127.0.0.1:0', '--cache-dir', tempDir(), '--log-format', 'json'],
    { stdout: 'pipe', stderr: 'pipe' },
  );
  const stderr = new Response(child.stderr).text();
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/version?device=big`).then((r) => r.status === 200, () => false);
    if (ok) break;
    await Bun.sleep(100);
  }
  return { fw, port, child, stderr };
}

/** A device download on a raw socket: `first` resolves at the first bytes, `all` when the server closes. */
function startDownload(port: number): Promise<{ sock: Socket; first: Promise<void>; all: Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => {
      s.write('GET /firmware?device=big HTTP/1.1\r\nHost: ota\r\nConnection: close\r\n\r\n');
      const first = new Promise<void>((r) => s.once('data', () => r()));
      const all = new Promise<Buffer>((r) => s.on('close', () => r(Buffer.concat(chunks))));
      s.on('data', (c: Buffer) => chunks.push(c));
      resolve({ sock: s, first, all });
    });
    s.once('error', reject);
  });
}

test('SIGTERM: the download in flight completes, new connections are refused, exit 0', async () => {
  const { fw, port, child, stderr } = await startChild();
  const { sock, first, all } = await startDownload(port);
  // Let the response start, then stop reading: the server is mid-body when the signal comes.
  await first;
  sock.pause();
  await Bun.sleep(200);
  child.kill('SIGTERM');
  await Bun.sleep(300);
  const refused = await fetch(`http://127.0.0.1:${port}/health`).then(() => false, () => true);
  expect(refused).toBe(true);

  sock.resume();
  const raw = await all;
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, Math.max(0, Math.min(end, 400))).toString('latin1');
  const body = raw.subarray(end + 4);
  expect(head).toStartWith('HTTP/1.1 200');
  expect(head.toLowerCase()).toContain(`content-length: ${SIZE}`);
  expect(body.byteLength).toBe(SIZE);
  expect(createHash('sha256').update(body).digest('hex')).toBe(createHash('sha256').update(fw.bytes('big', '1.0.0.bin')).digest('hex'));

  expect(await child.exited).toBe(0);
  const log = (await stderr).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; route?: string; status?: number; bytes?: number });
  expect(log.some((l) => l.msg === 'shutting down: draining downloads in flight')).toBe(true);
  expect(log.some((l) => l.msg === 'request' && l.route === '/firmware' && l.status === 200 && l.bytes === SIZE)).toBe(true);
  expect(log.at(-1)?.msg).toBe('stopped');
}, 30_000);

test('SIGTERM: a download that never reads is cut after the drain bound, still exit 0', async () => {
  const { port, child } = await startChild();
  const { sock, first } = await startDownload(port);
  await first;
  sock.pause();
  const started = Date.now();
  child.kill('SIGTERM');
  expect(await child.exited).toBe(0);
  const took = Date.now() - started;
  expect(took).toBeGreaterThan(1000);
  expect(took).toBeLessThan(15_000);
  sock.destroy();
}, 30_000);
