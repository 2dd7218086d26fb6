/**
 * Secrets from systemd credentials ($CREDENTIALS_DIRECTORY/<flag name>, src/cli/credentials.ts):
 * which flags they give, what wins over them, and an admin token read from one that really guards
 * the operator API. systemd-install.test.ts runs them through the unit and the real binary.
 */
import { describe, expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromCredentials } from '../../src/cli/credentials.ts';
import { fromEnv } from '../../src/cli/flags.ts';
import { tempDir } from '../support/tmp.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { startTestServer } from '../support/server.ts';

function credentials(files: Record<string, string>): string {
  const dir = tempDir('otaflux-creds-');
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data, { mode: 0o400 });
  return dir;
}

describe('credentials', () => {
  test('secrets take the content (one trailing newline dropped), private keys the path', () => {
    const dir = credentials({ 'registry-password': 'p@ss word\n', 'admin-token': 'tok\r\n', 'webhook-secret': 'hook\n\n', 'mqtt-password': 'm', 'tls-key': 'PEM', 'mqtt-client-key-path': 'PEM' });
    expect(fromCredentials({ CREDENTIALS_DIRECTORY: dir }, {})).toEqual({
      'registry-password': 'p@ss word',
      'admin-token': 'tok',
      'webhook-secret': 'hook\n',
      'mqtt-password': 'm',
      'tls-key': join(dir, 'tls-key'),
      'mqtt-client-key-path': join(dir, 'mqtt-client-key-path'),
    });
  });

  test('a flag or env var wins; an empty or lone-newline credential and other names give nothing', () => {
    const dir = credentials({ 'registry-password': 'from-credential', 'admin-token': '\n', 'webhook-secret': '', 'registry-url': 'registry.example.com' });
    const env = { CREDENTIALS_DIRECTORY: dir, REGISTRY_PASSWORD: 'from-env' };
    expect(fromCredentials(env, fromEnv(env, {}))).toEqual({ 'registry-password': 'from-env' });
    expect(fromCredentials({ CREDENTIALS_DIRECTORY: dir }, { 'registry-password': 'from-flag' })).toEqual({ 'registry-password': 'from-flag' });
    expect(fromCredentials({}, {})).toEqual({});
  });

  test('an unreadable credential is one line naming it', () => {
    const dir = tempDir('otaflux-creds-');
    mkdirSync(join(dir, 'admin-token'));
    expect(() => fromCredentials({ CREDENTIALS_DIRECTORY: dir }, {})).toThrow(/^credential admin-token \(\$CREDENTIALS_DIRECTORY\/admin-token\): cannot read it \(EISDIR\)$/);
  });

  test('an admin token from a credential guards the operator API', async () => {
    const fw = firmwareDir({ 'esp32-demo': { '1.0.0.bin': 100 } });
    const flags = fromCredentials({ CREDENTIALS_DIRECTORY: credentials({ 'admin-token': 'op-token-from-systemd\n' }) }, { 'firmware-dir': fw.root });
    const s = await startTestServer({ flags });
    try {
      expect((await fetch(`${s.url}/api/status`)).status).toBe(401);
      expect((await fetch(`${s.url}/api/status`, { headers: { authorization: 'Bearer op-token-from-systemd' } })).status).toBe(200);
    } finally {
      await s.close();
    }
  }, 30_000);
});
