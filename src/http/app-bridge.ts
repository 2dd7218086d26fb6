/**
 * Hands a request the device listener does not answer itself to the Elysia app (`app.handle`) and
 * gives back what to write: status, headers (framing ones dropped: the listener sets its own) and
 * the body bytes. A target the WHATWG URL parser refuses is a 400; an app that throws is logged and
 * answered 500 (a defect of ours, never a client's doing: the hostile-input tests look for it).
 * What the connection knows (peer address, client certificate) goes with the request: routes read
 * it with `connectionOf(request)`, so mTLS and per-address limits work on app routes too.
 *
 * A route that answers with an image (a DDI artifact) records the DeviceReply its Response was made
 * from (`withDeviceReply`): the device listener then writes that reply as it writes `/firmware`
 * (a file slice sent from the file, never read into memory, and the reply's `onSent` told how many
 * bytes left), and the Response's body is never read. Anyone else (`app.handle` in tests, the operator
 * listener) reads the Response as usual.
 */
import type { Logger, PeerCertificate } from '../plugin.ts';
import type { RequestHead } from './request-head.ts';
import type { DeviceReply } from './device-api.ts';

export interface AppAnswer {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The route's own reply, to be written instead of `body` (its Content-Length is in `headers`). */
  reply?: DeviceReply;
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

const replies = new WeakMap<Request, DeviceReply>();

/**
 * Records that `request` is answered by `response`, made from `reply`, and returns `response`: the
 * device listener writes the reply itself. The request is the key (Elysia may wrap the Response a
 * route returns in a new one, never the Request it hands the route).
 */
export function withDeviceReply(request: Request, response: Response, reply: DeviceReply): Response {
  replies.set(request, reply);
  return response;
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
  const out: Record<string, string> = {};
  response.headers.forEach((v, k) => {
    if (!DROPPED.has(k)) out[k] = v;
  });
  const reply = replies.get(request);
  if (reply && reply.status === response.status) {
    // The Response's body (a lazy file slice or a view of shared bytes) is never read.
    void response.body?.cancel().catch(() => {});
    // The headers as the app left them; the length is the reply's, whose body goes out as it is.
    const length = reply.headers['content-length'];
    if (length !== undefined) out['content-length'] = length;
    return { status: response.status, headers: out, body: new Uint8Array(), reply: { ...reply, status: response.status, headers: out } };
  }
  const bytes = r.method === 'HEAD' ? new Uint8Array() : new Uint8Array(await response.arrayBuffer());
  const length = r.method === 'HEAD' ? response.headers.get('content-length') : String(bytes.byteLength);
  if (length !== null) out['content-length'] = length;
  return { status: response.status, headers: out, body: bytes };
}

function text(status: number, body: string): AppAnswer {
  return { status, headers: { ...TEXT, 'content-length': String(body.length) }, body: new TextEncoder().encode(body) };
}
