/**
 * Hands a request the device listener does not answer itself to the Elysia app (`app.handle`) and
 * gives back what to write: status, headers (framing ones dropped: the listener sets its own) and
 * the body bytes. A target the WHATWG URL parser refuses is a 400; an app that throws is logged and
 * answered 500 (a defect of ours, never a client's doing: the hostile-input tests look for it).
 * What the connection knows (peer address, client certificate) goes with the request: routes read
 * it with `connectionOf(request)`, so mTLS and per-address limits work on app routes too.
 */
import type { Logger, PeerCertificate } from '../plugin.ts';
import type { RequestHead } from './request-head.ts';

export interface AppAnswer {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What the device listener knows about the connection a request came on. */
export interface ConnectionFacts {
  remoteAddress: string;
  /** The client certificate, when the connection is TLS and one was shown and accepted. */
  peerCertificate?: PeerCertificate;
}

const connections = new WeakMap<Request, ConnectionFacts>();

/** The connection facts of a request handed over by `askApp`; undefined for any other request. */
export function connectionOf(request: Request): ConnectionFacts | undefined {
  return connections.get(request);
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8' };
const DROPPED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

export async function askApp(r: RequestHead, body: Buffer | null, fallback: (request: Request) => Promise<Response>, logger: Logger, conn?: ConnectionFacts): Promise<AppAnswer> {
  let request: Request;
  try {
    const headers = new Headers();
    for (const name in r.headers) headers.set(name, r.headers[name] as string);
    request = new Request(`http://localhost${r.target}`, { method: r.method, headers, ...(body ? { body } : {}) });
  } catch {
    return text(400, 'Bad Request: invalid request target');
  }
  if (conn) connections.set(request, conn);
  let response: Response;
  try {
    response = await fallback(request);
  } catch (e) {
    logger.error('request failed', { error: String(e) });
    return text(500, 'Internal error');
  }
  const bytes = r.method === 'HEAD' ? new Uint8Array() : new Uint8Array(await response.arrayBuffer());
  const out: Record<string, string> = {};
  response.headers.forEach((v, k) => {
    if (!DROPPED.has(k)) out[k] = v;
  });
  const length = r.method === 'HEAD' ? response.headers.get('content-length') : String(bytes.byteLength);
  if (length !== null) out['content-length'] = length;
  return { status: response.status, headers: out, body: bytes };
}

function text(status: number, body: string): AppAnswer {
  return { status, headers: { ...TEXT, 'content-length': String(body.length) }, body: new TextEncoder().encode(body) };
}
