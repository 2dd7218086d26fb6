// Operator mistakes at start-up, over the real `bun src/main.ts` process: each exits with its code
// and prints exactly one line on stderr that names the setting and says what to change, never a
// stack trace.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { firmwareDir } from '../support/firmware-dir.ts';
import { makeTlsFiles } from '../support/registry.ts';
import { tempDir } from '../support/tmp.ts';

const MAIN = join(import.meta.dir, '../../src/main.ts');

let cwd = '';
let fw = '';
let tls: { certFile: string; keyFile: string };
let blocker: Server;
let busy = 0;

beforeAll(async () => {
  cwd = tempDir('otaflux-startup-');
  fw = firmwareDir({ dev: { '1.0.0.bin': 10 } }).root;
  tls = await makeTlsFiles(tempDir('otaflux-startup-tls-'));
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  busy = (blocker.address() as { port: number }).port;
}, 60_000);
afterAll(() => blocker.close());

/** Runs otaflux with logs off (so stderr holds only what the failure prints). */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; lines: string[]; stderr: string }> {
  const p = Bun.spawn([process.execPath, MAIN, ...args], {
    cwd,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { PATH: process.env.PATH ?? '', HOME: cwd, LOG_LEVEL: 'off', ...env },
  });
  const killer = setTimeout(() => p.kill(), 20_000);
  const stderr = await new Response(p.stderr).text();
  const code = await p.exited;
  clearTimeout(killer);
  return { code, stderr, lines: stderr.split('\n').filter(Boolean) };
}

const serve = () => ['--firmware-dir', fw, '--cache-dir', join(cwd, 'cache'), '--listen-addr', '127.0.0.1:0', '--metrics-listen-addr', '127.0.0.1:0'];

interface Mistake {
  name: string;
  args: () => string[];
  env?: Record<string, string>;
  code: number;
  line: () => string | RegExp;
}

const MISTAKES: Mistake[] = [
  {
    name: 'device address in use',
    args: () => [...serve(), '--listen-addr', `127.0.0.1:${busy}`],
    code: 1,
    line: () => `otaflux: --listen-addr 127.0.0.1:${busy}: address already in use; stop the other process or choose another port`,
  },
  {
    name: 'metrics address in use',
    args: () => [...serve(), '--metrics-listen-addr', `127.0.0.1:${busy}`],
    code: 1,
    line: () => `otaflux: --metrics-listen-addr 127.0.0.1:${busy}: address already in use; stop the other process or choose another port`,
  },
  {
    name: 'HTTPS address in use',
    args: () => [...serve(), '--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--tls-listen-addr', `127.0.0.1:${busy}`],
    code: 1,
    line: () => `otaflux: --tls-listen-addr 127.0.0.1:${busy}: address already in use; stop the other process or choose another port`,
  },
  {
    name: 'a listen address without a host',
    args: () => [...serve(), '--listen-addr', '8080'],
    code: 2,
    line: () => 'otaflux: --listen-addr 8080: expected host:port with a port up to 65535, e.g. 0.0.0.0:8080 or [::]:8080, or false to turn it off',
  },
  {
    name: 'a port out of range (env var)',
    args: () => [...serve().slice(0, -2)],
    env: { METRICS_LISTEN_ADDR: '0.0.0.0:99999' },
    code: 2,
    line: () => /^otaflux: --metrics-listen-addr 0\.0\.0\.0:99999: expected host:port with a port up to 65535/,
  },
  {
    name: 'an address of another machine',
    args: () => [...serve(), '--listen-addr', '192.0.2.1:8080'],
    code: 1,
    line: () => 'otaflux: --listen-addr 192.0.2.1:8080: not an address of this machine; use one of its IP addresses, or 0.0.0.0 for all of them',
  },
  {
    name: 'a host name that does not resolve',
    args: () => [...serve(), '--listen-addr', 'no-such-host.invalid:8080'],
    code: 1,
    line: () => /^otaflux: --listen-addr no-such-host\.invalid:8080: not an address of this machine/,
  },
  {
    name: '--listen-addr false with HTTPS off',
    args: () => [...serve(), '--listen-addr', 'false'],
    code: 2,
    line: () => /^otaflux: --listen-addr false turns off plain HTTP, and HTTPS is off too: .*give a listen address, or --tls-cert and --tls-key$/,
  },
  {
    name: 'a short webhook secret',
    args: () => [...serve(), '--webhook-secret', 'abc'],
    code: 2,
    line: () => 'otaflux: --webhook-secret: 3 characters is too short to guess-proof it; use at least 8, e.g. the output of: openssl rand -hex 16',
  },
  {
    name: 'a short admin token (env var)',
    args: serve,
    env: { ADMIN_TOKEN: 'short' },
    code: 2,
    line: () => /^otaflux: --admin-token: 5 characters is too short to guess-proof it; use at least 16/,
  },
  {
    name: 'an unknown log level',
    args: () => [...serve(), '--log-level', 'verbose'],
    code: 2,
    line: () => "otaflux: --log-level verbose: expected off, error, warn, info, debug or trace (any case), or 0 to 5",
  },
  {
    name: 'a missing firmware folder',
    args: () => [...serve(), '--firmware-dir', join(cwd, 'no-such-folder')],
    code: 1,
    line: () => `otaflux: setup source.dir: firmware folder ${join(cwd, 'no-such-folder')} does not exist or is not a folder`,
  },
  {
    name: 'a cache folder that is a file',
    args: () => {
      writeFileSync(join(cwd, 'a-file'), 'x');
      return [...serve(), '--cache-dir', join(cwd, 'a-file')];
    },
    code: 1,
    line: () => `otaflux: --cache-dir ${join(cwd, 'a-file')}: cannot create the cache there (ENOTDIR); choose a folder this user can write (cache.dir)`,
  },
  {
    name: 'a missing TLS certificate',
    args: () => [...serve(), '--tls-cert', join(cwd, 'no.crt'), '--tls-key', tls.keyFile, '--tls-listen-addr', '127.0.0.1:0'],
    code: 1,
    line: () => /^otaflux: reading TLS certificate .*no\.crt: ENOENT; check --tls-cert, --tls-key, --tls-client-ca \(server\.tls\)$/,
  },
  {
    name: 'a certificate without its key',
    args: () => [...serve(), '--tls-cert', tls.certFile],
    code: 2,
    line: () => 'otaflux: --tls-cert and --tls-key go together: give both or neither',
  },
  {
    name: 'a missing cosign key',
    args: () => [...serve(), '--cosign-pub-key-path', join(cwd, 'no.pub')],
    code: 1,
    line: () => /^otaflux: setup verifier\.cosign: cosign public key .*no\.pub cannot be read/,
  },
  {
    name: 'a registry URL with another scheme',
    args: () => ['--registry-url', 'ftp://harbor.example.com', '--repository-prefix', 'fw', ...serve().slice(2)],
    code: 2,
    line: () => /^otaflux: --registry-url ftp:\/\/harbor\.example\.com: .*scheme must be http or https$/,
  },
  {
    name: 'a registry URL without its prefix',
    args: () => ['--registry-url', 'harbor.example.com', ...serve().slice(2)],
    code: 2,
    line: () => 'otaflux: --registry-url needs --repository-prefix (use "" for none)',
  },
  {
    name: 'an MQTT URL with another scheme',
    args: () => [...serve(), '--mqtt-url', 'http://broker:1883'],
    code: 2,
    line: () => "otaflux: --mqtt-url: unsupported scheme 'http', expected mqtt:// or mqtts://",
  },
  {
    name: 'a cache of no entries',
    args: () => [...serve(), '--cache-size', '0'],
    code: 2,
    line: () => 'otaflux: --cache-size: must be at least 1',
  },
  {
    name: 'a boolean env var that is not one',
    args: serve,
    env: { REGISTRY_INSECURE: 'maybe' },
    code: 2,
    line: () => "otaflux: REGISTRY_INSECURE: expected true or false, got 'maybe'",
  },
  {
    name: 'a misspelt flag',
    args: () => [...serve(), '--listen-adr', '0.0.0.0:1'],
    code: 2,
    line: () => 'otaflux: unknown flag --listen-adr (did you mean --listen-addr?); see otaflux --help',
  },
  {
    name: 'nothing to serve',
    args: () => ['--listen-addr', '127.0.0.1:0'],
    code: 2,
    line: () => /^otaflux: nothing to serve: no otaflux\.config\.ts here, and neither --registry-url nor --firmware-dir was given/,
  },
  {
    name: 'a config file with a syntax error',
    args: () => {
      writeFileSync(join(cwd, 'broken.config.ts'), "import { defineConfig } from 'otaflux';\nexport default defineConfig({\n  server: { logLevel: 'info' }\n  cache: {},\n});\n");
      return [...serve(), '--config', join(cwd, 'broken.config.ts')];
    },
    code: 2,
    line: () => /^otaflux: .*broken\.config\.ts:4:3: error: Expected "}" but found "cache" \(3 more errors after it\)$/,
  },
];

for (const m of MISTAKES) {
  test(`${m.name}: one line, exit ${m.code}`, async () => {
    const r = await run(m.args(), m.env);
    expect(r.stderr).not.toContain('    at ');
    expect(r.lines).toHaveLength(1);
    const want = m.line();
    if (typeof want === 'string') expect(r.lines[0]).toBe(want);
    else expect(r.lines[0]).toMatch(want);
    expect(r.code).toBe(m.code);
  }, 30_000);
}

test('with logs on, the failure is still one plain line among the JSON log lines, and no stack', async () => {
  const r = await run([...serve(), '--listen-addr', `127.0.0.1:${busy}`], { LOG_LEVEL: 'info' });
  expect(r.code).toBe(1);
  const plain = r.lines.filter((l) => !l.startsWith('{'));
  expect(plain).toEqual([`otaflux: --listen-addr 127.0.0.1:${busy}: address already in use; stop the other process or choose another port`]);
  for (const l of r.lines.filter((x) => x.startsWith('{'))) JSON.parse(l);
}, 30_000);
