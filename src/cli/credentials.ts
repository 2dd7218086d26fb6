/**
 * Secrets from systemd credentials. With `LoadCredential=` the service manager copies root-only
 * files into a private, read-only folder that only the service's user can read, and names it in
 * `$CREDENTIALS_DIRECTORY`. A credential named like a flag gives that flag when neither the command
 * line nor an env var did:
 *
 * - `registry-password`, `admin-token`, `webhook-secret`, `mqtt-password`: the file's content, one
 *   trailing newline removed (`echo secret > file` works);
 * - `tls-key`, `mqtt-client-key-path`: the credential's own path (private keys stay files).
 *
 * A credential that is empty or a lone newline counts as not given: the unit's `SetCredential=`
 * fallback for a secret that is not in use.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, type FlagValues } from './flags.ts';

export const CREDENTIAL_VALUES = ['registry-password', 'admin-token', 'webhook-secret', 'mqtt-password'] as const;
export const CREDENTIAL_FILES = ['tls-key', 'mqtt-client-key-path'] as const;

/** `flags` (already merged with env vars) plus the flags given by credentials. */
export function fromCredentials(env: Record<string, string | undefined>, flags: FlagValues): FlagValues {
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) return flags;
  const out: FlagValues = { ...flags };
  for (const name of [...CREDENTIAL_VALUES, ...CREDENTIAL_FILES]) {
    if (out[name] !== undefined) continue;
    const path = join(dir, name);
    const content = read(path, name)?.replace(/\r?\n$/, '');
    if (!content) continue;
    out[name] = (CREDENTIAL_FILES as readonly string[]).includes(name) ? path : content;
  }
  return out;
}

function read(path: string, name: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new UsageError(`credential ${name} ($CREDENTIALS_DIRECTORY/${name}): cannot read it (${code ?? (e as Error).message})`);
  }
}
