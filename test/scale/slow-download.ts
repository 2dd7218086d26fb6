/**
 * A firmware download that the test holds in flight: a raw socket sends the request, reads the first
 * bytes and then stops reading (the kernel buffers fill and the server waits), until `resume()`.
 * `done` resolves with the status, the Content-Length and the body once the server closes the
 * connection, so a test sees whether every byte arrived or the download was cut.
 */
import { connect } from 'node:net';

export interface HeldDownload {
  /** Resolves once the first body bytes arrived; reading is paused from then on. */
  started: Promise<void>;
  resume(): void;
  /** `error`: how the connection ended when it did not end cleanly (a cut download: ECONNRESET). */
  done: Promise<{ status: number; length: number; body: Buffer; error?: string }>;
}

export function holdDownload(port: number, path: string): HeldDownload {
  const socket = connect(port, '127.0.0.1');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  let markStarted: () => void = () => {};
  let failStarted: (e: Error) => void = () => {};
  const started = new Promise<void>((resolve, reject) => {
    markStarted = resolve;
    failStarted = reject;
  });
  let first = true;
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    if (first) {
      first = false;
      socket.pause();
      markStarted();
    }
  });
  let error: string | undefined;
  const done = new Promise<{ status: number; length: number; body: Buffer; error?: string }>((resolve) => {
    socket.once('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
      failStarted(e);
    });
    socket.once('close', () => {
      failStarted(new Error('closed before any byte arrived'));
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
      resolve({ status, length, body: all.subarray(end + 4), ...(error ? { error } : {}) });
    });
  });
  return { started, resume: () => socket.resume(), done };
}

/** Whether a new TCP connection to the port is accepted (a stopping server refuses it). */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
