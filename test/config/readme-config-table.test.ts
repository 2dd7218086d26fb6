// The README's configuration table, row by row: each flag is set on the command line, through its
// env var and (where the row names a config key) in otaflux.config.ts, and what the server runs with
// or does is observed; the precedence flags > env vars > file is checked for every row that has all
// three. A row without a case here, or a flag missing from the table, fails the suite.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLAGS, envName, fromEnv, parseArgs } from '../../src/cli/flags.ts';
import { helpText } from '../../src/cli/help.ts';
import { resolveSettings, type Settings } from '../../src/config/settings.ts';
import { createLogger } from '../../src/log.ts';
import { startServer } from '../../src/server.ts';
import { tempDir } from '../support/tmp.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { makeTlsFiles, pushArtifact, startRegistry, type TestRegistry } from '../support/registry.ts';

interface Row { flag?: string; env?: string; keys: string[]; line: string }

/** The rows of the table under `## Configuration` whose header is `| flag | env var | config key |`. */
function readmeRows(): Row[] {
  const readme = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration'), readme.indexOf('\n## ', readme.indexOf('\n## Configuration') + 5));
  const lines = section.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| flag | env var | config key |'));
  expect(start).toBeGreaterThan(0);
  const rows: Row[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [flag, env, key] = line.split('|').slice(1, 4).map((c) => c.trim().replaceAll('`', ''));
    rows.push({
      ...(flag && flag !== '—' ? { flag: flag.replace(/^--/, '') } : {}),
      ...(env && env !== '—' ? { env } : {}),
      keys: key && key !== '—' ? key.split(', ') : [],
      line,
    });
  }
  return rows;
}

/** A config key the file can set directly (`server.listenAddr`), not a plugin option (`oci({ url })`). */
const PLAIN_KEY = /^[a-zA-Z]+(\.[a-zA-Z]+)*$/;

interface Case {
  /** Flag value, env value (different, so precedence shows). */
  values: [string, string];
  /** What the server runs with. */
  read(s: Settings): unknown | Promise<unknown>;
  /** What a flag or env value reads as (default: itself). */
  as?(v: string): unknown;
  /** JS source of the config key's value and what it reads as. */
  file?: [string, unknown];
  /** Other flags the setting needs to apply. */
  needs?: () => string[];
  /** Config object (JS source) the key is set in. */
  base?: () => string;
}

let work = '';
let fw: ReturnType<typeof firmwareDir>;
let tls: { caFile: string; certFile: string; keyFile: string };
const mqttUrl = 'mqtt://127.0.0.1:1883';
const abs = (name: string) => join(work, name);

/** Runs `fn` against the server the settings describe (loopback ports, a new cache). */
async function withServer<T>(s: Settings, fn: (base: string, metricsPort?: number) => Promise<T>): Promise<T> {
  s.listenAddr = '127.0.0.1:0';
  s.metricsListenAddr = s.metricsListenAddr === false ? false : '127.0.0.1:0';
  // The operator routes where these cases look for them (the device port), and no fixed operator port.
  s.admin.listenAddr = '127.0.0.1:0';
  s.admin.onDevicePort = true;
  // A cache of its own: a release cached by an earlier run must not answer for this one.
  s.cache.dir = tempDir('otaflux-readme-cache-');
  const server = await startServer(s, createLogger({ level: 'off' }));
  try {
    return await fn(`http://127.0.0.1:${server.ports.http}`, server.ports.metrics);
  } finally {
    await server.close();
  }
}

/** The /version of `dev` on the server the settings describe (no metrics listener). */
function served(s: Settings, dev = 'dev'): Promise<string> {
  s.metricsListenAddr = false;
  return withServer(s, async (base) => {
    const r = await fetch(`${base}/version?device=${dev}`);
    return r.status === 200 ? ((await r.text()).split('\n')[0] as string) : `status ${r.status}`;
  });
}

/** Which of the candidate credentials the server accepts: `send` answers true when one is accepted. */
async function accepted(candidates: string[], send: (c: string) => Promise<boolean>): Promise<string> {
  const ok: string[] = [];
  for (const c of candidates) if (await send(c)) ok.push(c);
  return ok.join(', ') || 'none';
}

const ADMIN_TOKENS = ['admin-token-aaaaaaaa', 'admin-token-bbbbbbbb', 'admin-token-ffffffff'];
const HOOK_SECRETS = ['hook-aaaa', 'hook-bbbb', 'hook-ffff'];
const PUSH = JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { repository: { name: 'dev', namespace: '', repo_full_name: 'dev' } } });

const tlsNeeds = () => [`--tls-cert=${tls.certFile}`, `--tls-key=${tls.keyFile}`];
const tlsBase = () => `{ server: { tls: { cert: ${JSON.stringify(tls.certFile)}, key: ${JSON.stringify(tls.keyFile)} } } }`;
const mqttBase = () => `{ mqtt: { url: ${JSON.stringify(mqttUrl)} } }`;
const dirBase = () => `{ defaults: { source: dir({ root: ${JSON.stringify(fw.root)} }) } }`;

const CASES: Record<string, Case> = {
  config: { values: ['a.config.ts', 'b.config.ts'], as: abs, read: (s) => s.configFile },
  'listen-addr': {
    values: ['127.0.0.1:18081', '127.0.0.1:18082'], file: ["'127.0.0.1:18083'", '127.0.0.1:18083'], read: (s) => s.listenAddr,
  },
  'metrics-listen-addr': {
    values: ['127.0.0.1:19091', '127.0.0.1:19092'], file: ["'127.0.0.1:19093'", '127.0.0.1:19093'], read: (s) => s.metricsListenAddr,
  },
  'log-level': { values: ['DEBUG', '5'], as: (v) => (v === '5' ? 'trace' : v.toLowerCase()), file: ["'error'", 'error'], read: (s) => s.logLevel },
  'log-format': { values: ['json', 'text'], file: ["'text'", 'text'], read: (s) => s.logFormat },
  'firmware-dir': {
    // Two folders with different latest versions: the one served shows which folder was read.
    values: ['fw-a', 'fw-b'], as: (v) => (v === 'fw-a' ? '1.0.0' : '2.0.0'), needs: () => [], read: (s) => served(s),
  },
  'allow-prerelease': {
    values: ['true', 'false'], as: (v) => (v === 'true' ? '3.0.0-rc.1' : '2.0.0'), file: ['true', '3.0.0-rc.1'],
    needs: () => [`--firmware-dir=${abs('fw-b')}`], base: dirBase, read: (s) => served(s),
  },
  'cosign-pub-key-path': {
    values: ['a.pub', 'b.pub'], as: (v) => `verifier.cosign ${abs(v)}`, needs: () => [`--firmware-dir=${fw.root}`],
    // The key is read at start-up (plugin setup): a missing key names the path that was used.
    read: async (s) => {
      const id = s.composer.all().find((c) => c.matchedBy === 'defaults')?.verifier.id;
      const err = await served(s).then(() => '', (e: Error) => e.message);
      return `${id} ${/cosign public key (\S+) cannot be read/.exec(err)?.[1]}`;
    },
  },
  'cache-dir': { values: ['/tmp/c-a', '/tmp/c-b'], file: ["'/tmp/c-f'", '/tmp/c-f'], read: (s) => s.cache.dir },
  'cache-size': { values: ['7', '+8'], as: (v) => Number(v), file: ['9', 9], read: (s) => s.cache.maxEntries },
  'cache-max-bytes': { values: ['1000', '2000'], as: Number, file: ['3000', 3000], read: (s) => s.cache.maxBytes },
  'refresh-interval': { values: ['5', '6'], as: (v) => Number(v) * 1000, file: ['7', 7000], read: (s) => s.cache.refreshMs },
  // What the device listener does with these is observed in test/http/bounds.test.ts (408 at the deadline, refused connections).
  'header-timeout': { values: ['5', '6'], as: (v) => Number(v) * 1000, file: ['7', 7000], read: (s) => s.headerTimeoutMs },
  // What the workers do is observed in test/scale/workers.test.ts (one port, one registry poll, one MQTT notice).
  workers: { values: ['2', '3'], as: Number, file: ['4', 4], read: (s) => s.workers },
  // What the drain does is observed in test/scale/drain.test.ts (a download in flight finishes; one past the drain time is cut).
  'drain-timeout': { values: ['5', '6'], as: (v) => Number(v) * 1000, file: ['7', 7000], read: (s) => s.drainTimeoutMs },
  'max-connections': { values: ['50', '60'], as: Number, file: ['70', 70], read: (s) => s.maxConnections },
  'tls-listen-addr': {
    values: ['127.0.0.1:8441', '127.0.0.1:8442'], file: ["'127.0.0.1:8443'", '127.0.0.1:8443'], needs: tlsNeeds, base: tlsBase, read: (s) => s.tls?.listenAddr,
  },
  'tls-cert': {
    values: ['/x/a.crt', '/x/b.crt'], file: ["'/x/f.crt'", '/x/f.crt'], needs: () => [`--tls-key=${tls.keyFile}`], base: tlsBase, read: (s) => s.tls?.cert,
  },
  'tls-key': {
    values: ['/x/a.key', '/x/b.key'], file: ["'/x/f.key'", '/x/f.key'], needs: () => [`--tls-cert=${tls.certFile}`], base: tlsBase, read: (s) => s.tls?.key,
  },
  'tls-client-ca': {
    values: ['/x/a-ca.pem', '/x/b-ca.pem'], file: ["'/x/f-ca.pem'", '/x/f-ca.pem'], needs: tlsNeeds, base: tlsBase, read: (s) => s.tls?.clientCa,
  },
  'metrics-device-labels': {
    // Observed in /metrics after a served poll: the per-device series is there or not.
    values: ['true', 'false'], as: (v) => v === 'true', file: ['true', true], needs: () => [`--firmware-dir=${fw.root}`],
    read: (s) => withServer(s, async (base, metricsPort) => {
      expect((await fetch(`${base}/version?device=dev`)).status).toBe(200);
      return (await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).includes('otaflux_device_requests_total{device="dev"');
    }),
  },
  'admin-token': {
    // Observed by which bearer token the operator API accepts.
    values: [ADMIN_TOKENS[0] as string, ADMIN_TOKENS[1] as string], file: [JSON.stringify(ADMIN_TOKENS[2]), ADMIN_TOKENS[2]],
    read: (s) => withServer(s, (base) => accepted(ADMIN_TOKENS, async (t) => (await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${t}` } })).status === 200)),
  },
  // Where the operator listener binds and what the device port serves: observed in test/dashboard/listener.test.ts.
  'admin-listen-addr': {
    values: ['127.0.0.1:18181', 'false'], as: (v) => (v === 'false' ? false : v), file: ["'127.0.0.1:18183'", '127.0.0.1:18183'], read: (s) => s.admin.listenAddr,
  },
  'admin-on-device-port': { values: ['true', 'false'], as: (v) => v === 'true', file: ['true', true], read: (s) => s.admin.onDevicePort },
  'webhook-secret': {
    // Observed by which secret Harbor's webhook accepts (202; any other gets 401).
    values: [HOOK_SECRETS[0] as string, HOOK_SECRETS[1] as string], file: [JSON.stringify(HOOK_SECRETS[2]), HOOK_SECRETS[2]],
    read: (s) => withServer(s, (base) => accepted(HOOK_SECRETS, async (h) => (await fetch(`${base}/webhooks/harbor`, { method: 'POST', body: PUSH, headers: { authorization: h } })).status === 202)),
  },
  'database-url': {
    values: ['sqlite:///x/a.sqlite', 'postgres://otaflux@127.0.0.1:1/b'], file: ["'sqlite:///x/f.sqlite'", 'sqlite:///x/f.sqlite'], read: (s) => s.fleet?.databaseUrl,
  },
  'mqtt-url': { values: ['mqtt://a:1883', 'mqtts://b:8883'], file: ["'mqtt://f:1883'", 'mqtt://f:1883'], read: (s) => s.mqtt?.url },
  'mqtt-username': { values: ['ua', 'ub'], file: ["'uf'", 'uf'], needs: () => [`--mqtt-url=${mqttUrl}`], base: mqttBase, read: (s) => s.mqtt?.username },
  'mqtt-password': { values: ['pa', 'pb'], file: ["'pf'", 'pf'], needs: () => [`--mqtt-url=${mqttUrl}`], base: mqttBase, read: (s) => s.mqtt?.password },
  'mqtt-topic': { values: ['ta', 'tb'], file: ["'tf'", 'tf'], needs: () => [`--mqtt-url=${mqttUrl}`], base: mqttBase, read: (s) => s.mqtt?.topic },
  'mqtt-ca-cert-path': {
    values: ['/x/a.pem', '/x/b.pem'], file: ["'/x/f.pem'", '/x/f.pem'], needs: () => [`--mqtt-url=${mqttUrl}`], base: mqttBase, read: (s) => s.mqtt?.caCertPath,
  },
  'mqtt-client-cert-path': {
    values: ['/x/a.crt', '/x/b.crt'], file: ["'/x/f.crt'", '/x/f.crt'], needs: () => [`--mqtt-url=${mqttUrl}`], base: mqttBase, read: (s) => s.mqtt?.clientCertPath,
  },
  'mqtt-client-key-path': {
    values: ['/x/a.key', '/x/b.key'], file: ["'/x/f.key'", '/x/f.key'], needs: () => [`--mqtt-url=${mqttUrl}`], base: mqttBase, read: (s) => s.mqtt?.clientKeyPath,
  },
};

/**
 * Rows of the operator commands' flags (`rollout`, `device`, `inspect`), which the server does not
 * read: each is observed against a running server by the test file named here.
 */
const CLIENT_ROWS: Record<string, string> = { server: 'test/fleet/cli.test.ts', instance: 'test/fleet/cli.test.ts' };

/** Registry rows: observed against real registries (Debian's docker-registry), by what gets served. */
const REGISTRY_ROWS = ['registry-url', 'repository-prefix', 'registry-username', 'registry-password', 'registry-insecure', 'registry-ca-cert-path'];

/** Config-only rows: set in the file, observed in what the server runs with. */
const FILE_ONLY: Record<string, [string, string, (s: Settings) => unknown, unknown]> = {
  // key: [config object source, (unused), read, expected]
  'server.tls.requireClientCert': [`{ server: { tls: { cert: 'c', key: 'k', clientCa: 'ca', requireClientCert: false } } }`, '', (s) => s.tls?.requireClientCert, false],
  'server.tls.crl': [`{ server: { tls: { cert: 'c', key: 'k', clientCa: 'ca', crl: 'revoked.crl' } } }`, '', (s) => s.tls?.crl, 'revoked.crl'],
  // Observed in test/dashboard/auth.test.ts (roles) and test/dashboard/upload.test.ts (the limit).
  'server.operators': [`{ server: { operators: [{ name: 'ana', role: 'viewer', token: 'sha256:AAAAAAAAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }] } }`, '', (s) => s.admin.operators.map((o) => `${o.name} ${o.role}`), ['ana viewer']],
  'server.uploadMaxBytes': [`{ server: { uploadMaxBytes: 4096 } }`, '', (s) => s.admin.uploadMaxBytes, 4096],
  'cache.memoryBytes': [`{ cache: { memoryBytes: 12345 } }`, '', (s) => s.cache.memoryBytes, 12345],
  'limits.maxOutputBytes': [`{ limits: { maxOutputBytes: 4096 } }`, '', (s) => s.limits.maxOutputBytes, 4096],
  'limits.maxRatio': [`{ limits: { maxRatio: 3 } }`, '', (s) => s.limits.maxRatio, 3],
  extractors: [`{ extractors: [{ kind: 'extractor', id: 'extractor.test-extra', apiVersion: PLUGIN_API_VERSION, detect: () => false, extract: (s: any) => s }] }`, '', (s) => s.extractors.at(-1)?.id, 'extractor.test-extra'],
  'fleet.enabled': [`{ fleet: { enabled: false } }`, '', (s) => s.fleet, undefined],
  'fleet.checkins': [`{ fleet: { checkins: false } }`, '', (s) => s.fleet?.checkins, false],
  'fleet.refreshInterval': [`{ fleet: { refreshInterval: 7 } }`, '', (s) => s.fleet?.refreshMs, 7000],
  'fleet.rollouts': [`{ fleet: { rollouts: [{ id: 'r1', streams: 'esp32-*', version: '1.2.0', steps: [{ percent: 10 }, { percent: 100 }] }] } }`, '', (s) => s.fleet?.config.rollouts?.[0]?.id, 'r1'],
  'fleet.pins': [`{ fleet: { pins: [{ id: 'p1', stream: 'esp32-a', version: '1.0.0' }] } }`, '', (s) => s.fleet?.config.pins?.[0]?.id, 'p1'],
  'fleet.channels': [`{ fleet: { channels: { beta: ['unit-1'] } } }`, '', (s) => s.fleet?.config.channels?.beta, ['unit-1']],
  'fleet.labels': [`{ fleet: { labels: { lab: ['unit-2'] } } }`, '', (s) => s.fleet?.config.labels?.lab, ['unit-2']],
  'protocols.ddi.tenant': [`{ protocols: { ddi: { tenant: 'acme' } } }`, '', (s) => s.ddi?.tenant, 'acme'],
  'protocols.ddi.streams': [`{ protocols: { ddi: { streams: { 'gw-*': 'gateway' } } } }`, '', (s) => s.ddi?.streams, [['gw-*', 'gateway']]],
  'protocols.ddi.pollSleep': [`{ protocols: { ddi: { pollSleep: 30 } } }`, '', (s) => s.ddi?.pollSleepSeconds, 30],
  'protocols.ddi.publicUrl': [`{ protocols: { ddi: { publicUrl: 'https://ota.example.com/' } } }`, '', (s) => s.ddi?.publicUrl, 'https://ota.example.com'],
  'protocols.arduino.streams': [`{ protocols: { arduino: { streams: { '24:0a:c4:*': 'esp32-a', '24:0A:C4:12:34:56': 'esp32-b' } } } }`, '', (s) => s.arduino?.streams, [['24:0A:C4:12:34:56', 'esp32-b'], ['24:0A:C4:*', 'esp32-a']]],
  'protocols.rauc.streams': [`{ protocols: { rauc: { streams: { 'FooCorp *': 'foo-board' } } } }`, '', (s) => s.rauc?.streams, [['FooCorp *', 'foo-board']]],
  defaults: [dirSource('defaults'), '', (s) => s.composer.for('anything')?.matchedBy, 'defaults'],
  devices: [dirSource('devices'), '', (s) => s.composer.for('lab-1')?.matchedBy, 'lab-*'],
};

function dirSource(which: 'defaults' | 'devices'): string {
  return which === 'defaults' ? `{ defaults: { source: dir({ root: '.' }) } }` : `{ devices: { 'lab-*': { source: dir({ root: '.' }) } } }`;
}

let fileCount = 0;
/** Writes a config file: `base` (JS object source) with `key` set to `value` (JS source). */
function configFile(base = '{}', key?: string, value?: string): string {
  const path = join(work, `otaflux-${++fileCount}.config.ts`);
  writeFileSync(
    path,
    `import { defineConfig, dir, PLUGIN_API_VERSION } from 'otaflux';
const cfg: any = ${base};
${key ? `let o = cfg; const path = ${JSON.stringify(key.split('.'))};
for (const k of path.slice(0, -1)) o = (o[k] ??= {});
o[path[path.length - 1]] = ${value};` : ''}
export default defineConfig(cfg);
`,
  );
  return path;
}

/** Settings as the CLI resolves them: argv parsed, env vars under it, the config file under both. */
function settingsFrom(argv: string[], env: Record<string, string>, config?: string): Promise<Settings> {
  const flags = fromEnv(env, parseArgs(argv).flags);
  return resolveSettings(config && !argv.some((a) => a.startsWith('--config')) && !env.OTAFLUX_CONFIG ? { config, ...flags } : flags, work);
}

beforeAll(async () => {
  work = tempDir('otaflux-readme-table-');
  fw = firmwareDir({ dev: { '1.0.0.bin': 10 } });
  for (const [name, versions] of [['fw-a', ['1.0.0']], ['fw-b', ['2.0.0', '3.0.0-rc.1']]] as const) {
    mkdirSync(join(work, name, 'dev'), { recursive: true });
    for (const v of versions) writeFileSync(join(work, name, 'dev', `${v}.bin`), v);
  }
  for (const name of ['a.config.ts', 'b.config.ts']) writeFileSync(abs(name), `export default { defaults: { source: { kind: 'source', id: 'source.x', apiVersion: 1, versions: async () => [], resolve: async () => { throw new Error('x'); } } } };\n`);
  tls = await makeTlsFiles(tempDir('otaflux-readme-tls-'));
}, 60_000);

const rows = readmeRows();

test('every flag has a row in the README table, and every row a case in this file', () => {
  const documented = rows.filter((r) => r.flag).map((r) => r.flag);
  expect(documented.sort()).toEqual(FLAGS.map((f) => f.name).sort());
  for (const r of rows) {
    if (r.flag) {
      expect(r.env).toBe(envName(FLAGS.find((f) => f.name === r.flag)!) ?? undefined);
      const client = CLIENT_ROWS[r.flag];
      if (client) expect(readFileSync(join(import.meta.dir, '../..', client), 'utf8')).toContain(`'--${r.flag}'`);
      else if (!CASES[r.flag] && !REGISTRY_ROWS.includes(r.flag)) throw new Error(`README row without a test case here: ${r.line}`);
    } else {
      for (const k of r.keys) if (!FILE_ONLY[k]) throw new Error(`README row without a test case here: ${r.line}`);
    }
  }
});

test('otaflux --help lists every row\'s flag with its env var', () => {
  const help = helpText('test', []);
  for (const r of rows.filter((x) => x.flag)) {
    const line = help.split('\n').find((l) => l.startsWith(`  --${r.flag} `) || l === `  --${r.flag}`);
    if (r.env) expect(line ?? `no --help line for --${r.flag}`).toContain(`env: ${r.env}`);
    else expect(line ?? `no --help line for --${r.flag}`).not.toContain('env:');
  }
});

describe('each flag, its env var and its config key change what the server does', () => {
  for (const row of rows.filter((r) => r.flag && CASES[r.flag])) {
    const name = row.flag as string;
    const c = CASES[name] as Case;
    const key = row.keys.find((k) => PLAIN_KEY.test(k));
    const as = (v: string) => (c.as ? c.as(v) : v);
    const value = (v: string) => (name === 'firmware-dir' || name === 'cosign-pub-key-path' || name === 'config' ? abs(v) : v);
    test(`--${name} / ${row.env}${key ? ` / ${key}` : ''}`, async () => {
      if (key) expect(c.file).toBeDefined();
      const needs = c.needs?.() ?? [];
      const env = row.env as string;
      const plain = name === 'config' ? undefined : configFile(c.base?.());
      const [a, b] = c.values;
      // The flag alone, the env var alone, both (the flag wins).
      expect(await c.read(await settingsFrom([`--${name}=${value(a)}`, ...needs], {}, plain))).toEqual(as(a));
      expect(await c.read(await settingsFrom(needs, { [env]: value(b) }, plain))).toEqual(as(b));
      expect(await c.read(await settingsFrom([`--${name}=${value(a)}`, ...needs], { [env]: value(b) }, plain))).toEqual(as(a));
      if (key && c.file) {
        // The config key alone; under the env var; under the flag.
        const file = configFile(c.base?.(), key, c.file[0]);
        expect(await c.read(await settingsFrom(needs, {}, file))).toEqual(c.file[1]);
        // A value that reads differently from the file's, so the winner shows.
        const x = Bun.deepEquals(as(a), c.file[1]) ? b : a;
        expect(as(x)).not.toEqual(c.file[1]);
        expect(await c.read(await settingsFrom(needs, { [env]: value(x) }, file))).toEqual(as(x));
        expect(await c.read(await settingsFrom([`--${name}=${value(x)}`, ...needs], {}, file))).toEqual(as(x));
      }
    }, 30_000);
  }

  for (const row of rows.filter((r) => !r.flag)) {
    test(`config key ${row.keys.join(', ')}`, async () => {
      for (const k of row.keys) {
        const [base, , read, expected] = FILE_ONLY[k] as (typeof FILE_ONLY)[string];
        expect(await read(await settingsFrom([], {}, configFile(base)))).toEqual(expected);
      }
    });
  }
});

describe('registry flags and env vars, against real registries', () => {
  let secure: TestRegistry;
  let plain: TestRegistry;
  beforeAll(async () => {
    secure = await startRegistry({ auth: 'htpasswd', tls: true });
    plain = await startRegistry();
    for (const r of [secure, plain]) await pushArtifact(r, 'fw/dev', '1.4.2', [{ name: 'firmware.bin', data: new Uint8Array(64).fill(1), mediaType: 'application/octet-stream' }]);
  }, 120_000);
  afterAll(async () => {
    await secure?.close();
    await plain?.close();
  });

  /** All registry settings for the TLS registry with a password, `name` given as a flag or an env var. */
  function secureSettings(name: string, way: 'flag' | 'env', override?: string): Promise<Settings> {
    const all: Record<string, string> = {
      'registry-url': `https://${secure.host}/`,
      'repository-prefix': 'fw/',
      'registry-username': secure.username as string,
      'registry-password': secure.password as string,
      'registry-ca-cert-path': secure.caFile as string,
    };
    if (override !== undefined) all[name] = override;
    const argv = Object.entries(all).filter(([k]) => k !== name || way === 'flag').map(([k, v]) => `--${k}=${v}`);
    const env = way === 'env' ? { [name.toUpperCase().replaceAll('-', '_')]: all[name] as string } : {};
    return settingsFrom(argv, env, configFile());
  }

  for (const name of REGISTRY_ROWS.filter((n) => n !== 'registry-insecure')) {
    for (const way of ['flag', 'env'] as const) {
      test(`--${name} as ${way === 'flag' ? 'a flag' : 'an env var'} reaches the registry`, async () => {
        expect(await served(await secureSettings(name, way))).toBe('1.4.2');
        // A wrong value shows the setting is the one used.
        const wrong: Record<string, string> = {
          'registry-url': `https://127.0.0.1:${Number(secure.host.split(':')[1]) === 1 ? 2 : 1}`,
          'repository-prefix': 'elsewhere',
          'registry-username': 'nobody',
          'registry-password': 'wrong-password',
        };
        if (name === 'registry-ca-cert-path') {
          await expect(secureSettings(name, way, join(work, 'no-such-ca.pem')).then(served)).rejects.toThrow('no-such-ca.pem');
        } else {
          expect(await served(await secureSettings(name, way, wrong[name]))).toMatch(/^status (404|502|503)$/);
        }
      }, 60_000);
    }
  }

  for (const v of ['--registry-insecure', 'REGISTRY_INSECURE=1', 'REGISTRY_INSECURE=TRUE', 'REGISTRY_INSECURE=yes', '--registry-insecure=true']) {
    test(`${v}: plain HTTP to a registry given without a scheme`, async () => {
      const argv = [`--registry-url=${plain.host}`, '--repository-prefix=fw', ...(v.startsWith('--') ? [v] : [])];
      const env: Record<string, string> = v.startsWith('--') ? {} : { REGISTRY_INSECURE: v.split('=')[1] as string };
      expect(await served(await settingsFrom(argv, env, configFile()))).toBe('1.4.2');
      // Without it the registry is spoken to over HTTPS, which a plain registry does not answer.
      expect(await served(await settingsFrom([`--registry-url=${plain.host}`, '--repository-prefix=fw', '--registry-insecure=false'], {}, configFile()))).toBe('status 503');
    }, 60_000);
  }
});
