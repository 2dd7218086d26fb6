/**
 * Plugins built from the Rust server's flags: `--registry-url …` → `oci(…)`,
 * `--cosign-pub-key-path` → `cosign({ keys: [path] })`, and, with a client CA (`--tls-client-ca`
 * or `server.tls.clientCa`), `mtls({ instances: true })` for every device whose `auth` is not set.
 */
import { resolve } from 'node:path';
import type { AuthenticatorPlugin, SourcePlugin, VerifierPlugin } from '../plugin.ts';
import type { FlagValues } from '../cli/flags.ts';
import { UsageError } from '../cli/flags.ts';

export async function sourceFromRegistryFlags(flags: FlagValues): Promise<SourcePlugin | undefined> {
  const url = flags['registry-url'];
  if (typeof url !== 'string') return undefined;
  if (typeof flags['repository-prefix'] !== 'string') throw new UsageError('--registry-url needs --repository-prefix (use "" for none)');
  const { oci } = await import('../plugins/source/oci/index.ts');
  try {
    return makeOci(oci, url, flags);
  } catch (e) {
    // oci() refuses a malformed registry address: say which setting to change.
    throw new UsageError(`--registry-url ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function makeOci(oci: typeof import('../plugins/source/oci/index.ts').oci, url: string, flags: FlagValues): SourcePlugin {
  return oci({
    url,
    prefix: flags['repository-prefix'] as string,
    insecure: flags['registry-insecure'] === true,
    ...(typeof flags['registry-username'] === 'string' ? { username: flags['registry-username'] } : {}),
    ...(typeof flags['registry-password'] === 'string' ? { password: flags['registry-password'] } : {}),
    ...(typeof flags['registry-ca-cert-path'] === 'string' ? { caFile: flags['registry-ca-cert-path'] } : {}),
  });
}

export async function verifierFromKeyFlag(flags: FlagValues, cwd: string): Promise<VerifierPlugin | undefined> {
  const key = flags['cosign-pub-key-path'];
  if (typeof key !== 'string') return undefined;
  const { cosign } = await import('../plugins/verifier/cosign/index.ts');
  return cosign({ keys: [resolve(cwd, key)] });
}

/**
 * Device auth when a client CA is configured and a device's `auth` is not set: a certificate of the
 * CA fetches only its own device, the one its subject CN names: CN `esp32-a` (one device per
 * stream) or `esp32-a:<instance>` (a fleet sharing one stream; the full CN names the instance).
 * Without it, any certificate of the CA would fetch every device's firmware.
 */
export async function authFromClientCa(): Promise<AuthenticatorPlugin> {
  const { mtls } = await import('../plugins/auth/mtls.ts');
  return mtls({ instances: true });
}
