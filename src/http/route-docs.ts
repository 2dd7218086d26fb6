/**
 * OpenAPI details of every route (parameters, responses with their exact bodies and headers),
 * given to the routes as their `detail` in app.ts and admin-api.ts. Describing only: no schema here
 * is given to Elysia for validation, so no request is answered differently for being documented.
 * The bodies are the ones in src/core/errors.ts and README.md ("Device API", "Status codes");
 * test/http/openapi.test.ts holds the spec against README and against what the listener answers.
 */
import type { DocumentDecoration } from 'elysia';

type Example = { summary?: string; value: string };
type Header = { description: string; schema: { type: 'string' | 'integer' } };

const TEXT = 'text/plain; charset=utf-8';
const str = { type: 'string' as const };
const int = { type: 'integer' as const };
const header = (description: string, schema: Header['schema'] = str): Header => ({ description, schema });

/** A text/plain answer whose body is one of `examples` (the exact bodies, for device `esp32-a`). */
function text(description: string, examples: Record<string, Example>, headers: Record<string, Header> = {}) {
  return { description, headers: { 'Content-Length': header('Body length in bytes', int), ...headers }, content: { [TEXT]: { schema: str, examples } } };
}

const DEVICE = 'esp32-a';
const RETRY_AFTER = header('Seconds to wait before asking again', int);

/** Device-route failures, as src/core/errors.ts words them. */
const deviceErrors = {
  400: text('No `device`, or an id that is not an OCI repository name', {
    missing: { summary: 'no or empty device', value: "Missing required query parameter: 'device'" },
    invalid: { summary: 'not a repository name', value: "Invalid device id: use lowercase letters, digits, '.', '_', '-' and '/' (at most 255 characters with the repository prefix)" },
  }),
  401: text('The authenticators of the device accept no credentials presented', { unauthorized: { value: 'Unauthorized' } }, {
    'WWW-Authenticate': header('`Bearer realm="otaflux"`'),
  }),
  403: text('Credentials of another device', { forbidden: { value: 'Forbidden' } }),
  404: text('No configuration serves the device, nothing is published for it, or no version passes the verifier (no bytes are ever served then)', {
    'no-firmware': { summary: 'nothing to serve', value: `No firmware for device '${DEVICE}'` },
    'no-verified-firmware': { summary: 'none verified', value: `No verified firmware for device '${DEVICE}'` },
  }),
  405: text('A method other than GET or HEAD (answered by the device listener)', { 'method-not-allowed': { value: 'Method Not Allowed' } }, {
    Allow: header('`GET, HEAD`'),
  }),
  429: text('Wrong or missing credentials from an address that had more than 10 refused in a burst (10 per minute earned back)', { 'rate-limited': { value: 'Too many failed attempts, retry later' } }, {
    'Retry-After': RETRY_AFTER,
  }),
  500: text('An unexpected failure (logged; no detail is given)', { internal: { value: 'Internal error' } }),
  502: text('The source answered with something unusable (bad archive, digest mismatch) and nothing good is cached', {
    'source-failed': { value: `Firmware for device '${DEVICE}' could not be prepared` },
  }),
};

const SOURCE_UNAVAILABLE = {
  'source-unavailable': { summary: 'source unreachable, nothing good cached', value: `Firmware source unavailable for device '${DEVICE}', retry later` },
  'authenticator-failed': { summary: 'an authenticator plugin threw (Retry-After: 30)', value: 'Authentication unavailable, retry later' },
};

/** The parameters both device routes take. */
const deviceParameters = [
  { name: 'device', in: 'query', required: true, description: 'Device id: an OCI repository name (lowercase, digits, `._-/`), at most 255 characters with the repository prefix', schema: str, example: DEVICE },
  { name: 'token', in: 'query', required: false, description: 'Device token, for `auth.token` devices that cannot set headers (off with `queryParam: false`)', schema: str },
  { name: 'Authorization', in: 'header', required: false, description: '`Bearer <device token>` for `auth.token` devices (mTLS devices present a client certificate instead)', schema: str },
];

export const versionDoc: DocumentDecoration = {
  summary: 'Latest version for a device: `version\\ncrc32\\nsize`',
  description:
    'The newest verified release of the device, as three lines without a trailing newline: the version, the IEEE CRC-32 of the bytes `/firmware` serves (unsigned decimal) and their size. HEAD answers the same headers without a body. A request may start with a stray CRLF; the connection stays open after the answer.',
  tags: ['Device API'],
  parameters: deviceParameters,
  responses: {
    200: text('The latest release', { release: { value: '1.4.2\n4051932293\n942320' } }),
    ...deviceErrors,
    503: text('The source is unreachable and nothing good is cached, or an authenticator failed', SOURCE_UNAVAILABLE, { 'Retry-After': RETRY_AFTER }),
  },
};

const firmwareHeaders = {
  ETag: header('The SHA-256 of the image, quoted: `"<hex>"`'),
  'Accept-Ranges': header('`bytes`'),
  'X-Firmware-Version': header('The version served, as in `/version`'),
  'X-Firmware-Crc32': header('IEEE CRC-32 of the whole image, unsigned decimal', int),
};
const octets = { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } as const;

export const firmwareDoc: DocumentDecoration = {
  summary: 'Firmware bytes for a device (Range, If-None-Match, If-Range)',
  description:
    'The image of the latest release, with an explicit Content-Length (never chunked). One `Range: bytes=N-` (or `N-M`, `-N`) resumes a download (ESP-IDF); under `If-Range` with a stale ETag the whole image comes back. HEAD answers the same headers without a body. Arduino HTTPUpdate, ESP-IDF and RAUC clients are recognised by their headers and answered as they expect (README "Device protocols").',
  tags: ['Device API'],
  parameters: [
    ...deviceParameters,
    { name: 'Range', in: 'header', required: false, description: 'One byte range, e.g. `bytes=65536-`; several ranges get the whole image', schema: str },
    { name: 'If-Range', in: 'header', required: false, description: 'The ETag the range belongs to; any other value gets the whole image (200)', schema: str },
    { name: 'If-None-Match', in: 'header', required: false, description: 'ETags the device has (`*` for any): 304 when the image is one of them', schema: str },
  ],
  responses: {
    200: { description: 'The whole image', headers: { 'Content-Length': header('Image size in bytes', int), ...firmwareHeaders }, content: octets },
    206: {
      description: 'The requested range',
      headers: { 'Content-Length': header('Range length in bytes', int), 'Content-Range': header('`bytes <first>-<last>/<size>`'), ...firmwareHeaders },
      content: octets,
    },
    204: { description: 'RAUC clients only (first `Range: bytes=0-3` or `RAUC-*` headers): nothing is offered to this system; no body' },
    304: { description: '`If-None-Match` names the current image: no body', headers: firmwareHeaders },
    416: {
      description: 'The range starts past the end of the image: no body',
      headers: { 'Content-Range': header('`bytes */<size>`'), 'Content-Length': header('`0`', int), ...firmwareHeaders },
    },
    ...deviceErrors,
    503: text('The source is unreachable and nothing good is cached, or the cached copy is unreadable and is being fetched again', {
      ...SOURCE_UNAVAILABLE,
      'cache-corrupt': { summary: 'cached copy unreadable', value: `Firmware for device '${DEVICE}' is being re-fetched, retry later` },
    }, { 'Retry-After': RETRY_AFTER }),
  },
};

export const healthDoc: DocumentDecoration = {
  summary: 'Liveness: 200 with an empty body',
  tags: ['Probes'],
  responses: { 200: { description: 'The process answers (empty body)' } },
};

const bool = { type: 'boolean' as const };
const readinessBody = {
  type: 'object' as const,
  required: ['ready', 'checks'],
  properties: {
    ready: bool,
    checks: { type: 'array' as const, items: { type: 'object' as const, required: ['name', 'ok'], properties: { name: str, ok: bool } } },
  },
};
const readyExample = { ready: true, checks: [{ name: 'config', ok: true }, { name: 'cache', ok: true }, { name: 'source source.dir', ok: true }] };

export const readyDoc: DocumentDecoration = {
  summary: 'Readiness: config loaded, cache folder writable, each source reachable or served from the cache (503 when not)',
  tags: ['Probes'],
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: readinessBody, example: readyExample } } },
    503: { description: 'A check failed (details in /api/ready)', content: { 'application/json': { schema: readinessBody } } },
  },
};

export const harborWebhookDoc: DocumentDecoration = {
  summary: 'Harbor PUSH_ARTIFACT webhook: refreshes the pushed device now (needs server.webhookSecret / --webhook-secret)',
  tags: ['Webhooks'],
  parameters: [{ name: 'Authorization', in: 'header', required: true, description: 'The webhook secret, as Harbor sends it', schema: str }],
  requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', description: 'Harbor event: `type`, `event_data.repository.name`' } } } },
  responses: {
    200: { description: 'Not a push, or a repository that is no device: ignored', content: { 'application/json': { schema: { type: 'object', properties: { ignored: str } } } } },
    202: { description: 'The device is being refreshed', content: { 'application/json': { schema: { type: 'object', properties: { refreshing: { type: 'array', items: str } } } } } },
    400: { description: 'Not a JSON object, or no repository name', content: { 'application/json': { schema: { type: 'object', properties: { error: str } } } } },
    401: { description: 'Wrong or missing secret', content: { [TEXT]: { schema: str, example: 'Unauthorized' } } },
    404: { description: 'No webhook secret configured: the webhook is off', content: { [TEXT]: { schema: str, example: 'Not Found' } } },
    413: { description: 'Body over the size limit', content: { [TEXT]: { schema: str, example: 'Payload Too Large' } } },
  },
};

const adminUnauthorized = {
  description: 'No or wrong admin token',
  headers: { 'WWW-Authenticate': header('`Bearer realm="otaflux-admin"`') },
  content: { 'application/json': { schema: { type: 'object', properties: { error: str } }, example: { error: 'unauthorized: send Authorization: Bearer <admin token>' } } },
} as const;
const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' as const } } } });
const list = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'array' as const, items: { type: 'object' as const } } } } });

/** An operator API route: Bearer admin token, JSON answer, 401 otherwise. */
function adminDoc(summary: string, ok: ReturnType<typeof json | typeof list>, extra: Partial<DocumentDecoration> = {}): DocumentDecoration {
  return { summary, tags: ['Operator API'], security: [{ adminToken: [] }], responses: { 200: ok, 401: adminUnauthorized }, ...extra };
}

/** A fleet control route of the operator API (README "Fleet control"): its answers and errors. */
export function fleetDoc(summary: string): DocumentDecoration {
  return adminDoc(summary, json('The result'), {
    responses: {
      200: json('The result'),
      201: json('Created'),
      400: json('The body is not valid: `{"error": "…"}` says which field and what was expected'),
      401: adminUnauthorized,
      404: json('No such rollout, pin or release'),
      409: json('The change does not fit the current state (e.g. resuming an aborted rollout)'),
      503: { ...json('The fleet state store is unavailable; retry later'), headers: { 'Retry-After': header('seconds') } },
    },
  });
}

export const adminDocs = {
  status: adminDoc('Uptime, devices seen, cache size', json('Summary')),
  devices: adminDoc('Devices polled or resolved: last poll, version served, source digest', list('One entry per device')),
  device: adminDoc('One device: resolved composition, release, activity and why a version was chosen or refused', json('The device'), {
    description: 'The path after `/api/devices/` is the device id (percent-encoded), e.g. `/api/devices/esp32-a`. With `?instance=ID`, also which rollout, step, bucket, pin or yank decides what that instance is offered.',
  }),
  releases: adminDoc('Releases built into the cache', list('One entry per release')),
  ready: adminDoc('Readiness with the detail of each check', json('Ready'), { responses: { 200: json('Ready'), 401: adminUnauthorized, 503: json('A check failed') } }),
};

const HTML = 'text/html; charset=utf-8';
const page = (description: string) => ({ description, content: { [HTML]: { schema: str } } });
const seeOther = { description: 'Done (or not signed in): on to the page named in `Location`', headers: { Location: header('The next page') } };

/**
 * A dashboard page (README "Dashboard"): HTML for a signed-in operator (the `otaflux_session` cookie),
 * else `303` to `/ui/login`; a change also needs the form's CSRF token and this origin, else `403`.
 */
export function dashboardDoc(summary: string, kind: 'page' | 'change'): DocumentDecoration {
  const responses: NonNullable<DocumentDecoration['responses']> = kind === 'page'
    ? { 200: page('The page'), 303: seeOther }
    : {
        303: seeOther,
        400: page('Not a form'),
        401: page('No session, or it expired'),
        403: page('Sent from another site (Origin), without the session\'s CSRF token, or by a viewer'),
      };
  return { summary, tags: ['Dashboard'], responses };
}
