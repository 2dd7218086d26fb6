/**
 * Hostile clients for the flood test, each bounded in count, bytes and time, on 127.0.0.1 only.
 * Every one respects socket backpressure, so the test process itself holds little.
 */
import type { Socket } from 'node:net';
import { openSocket } from '../support/raw-http.ts';

/** Opens a socket that never throws at the test (resets are expected: the server cuts these clients). */
export async function quietSocket(port: number): Promise<Socket> {
  const s = await openSocket(port);
  s.on('error', () => {});
  s.on('data', () => {});
  return s;
}

/**
 * Writes `chunk` again and again until `bytes` are sent, the socket closes, or `until` (ms epoch).
 * With `read` false the answers are never read (a client that pipelines and stalls).
 */
export async function blast(port: number, chunk: Buffer, bytes: number, until: number, prefix = '', read = true): Promise<void> {
  const s = await quietSocket(port);
  if (!read) s.pause();
  if (prefix) s.write(prefix);
  let sent = 0;
  let closed = false;
  s.once('close', () => (closed = true));
  while (!closed && sent < bytes && Date.now() < until) {
    sent += chunk.length;
    if (!s.write(chunk)) {
      await Promise.race([new Promise((r) => s.once('drain', r)), Bun.sleep(Math.max(0, until - Date.now()))]);
    }
  }
  s.destroy();
}

/** Sends `prefix` at once, then `text` one byte every `everyMs` until the socket closes or `until`. */
export async function trickler(port: number, text: string, everyMs: number, until: number, prefix = ''): Promise<void> {
  const s = await quietSocket(port);
  if (prefix) s.write(prefix);
  let closed = false;
  s.once('close', () => (closed = true));
  for (let i = 0; !closed && Date.now() < until; i++) {
    s.write(text[i % text.length] as string);
    await Bun.sleep(everyMs);
  }
  s.destroy();
}

/** Sends `request` and never reads the answer (pauses the socket) until `until`. */
export async function stalledReader(port: number, request: string, until: number): Promise<void> {
  const s = await quietSocket(port);
  s.pause();
  s.write(request);
  await Bun.sleep(Math.max(0, until - Date.now()));
  s.destroy();
}

/** Reads VmRSS of a process, in bytes. */
export async function rssOf(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
