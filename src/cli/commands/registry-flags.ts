/**
 * The registry flags `otaflux push` and `otaflux sign` share. Their env vars are the server's, so the
 * environment a server runs with also serves for publishing.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../flags.ts';
import { RegistrySession } from '../../oci-push/session.ts';
import type { CommandFlag } from './command-flags.ts';

export const REGISTRY_FLAGS: readonly CommandFlag[] = [
  { name: 'username', type: 'string', help: 'Registry user', env: 'REGISTRY_USERNAME' },
  { name: 'password', type: 'string', help: 'Registry password or token (prefer the env var: the command line is visible in ps)', env: 'REGISTRY_PASSWORD' },
  { name: 'ca-cert', type: 'string', help: 'CA bundle (PEM) for a registry with a private certificate', env: 'REGISTRY_CA_CERT_PATH' },
  { name: 'insecure', type: 'boolean', help: 'Plain HTTP to a registry given without a scheme', env: 'REGISTRY_INSECURE' },
];

/** A session with the registry at `url`, from the shared flags. */
export function sessionFrom(url: string, v: Record<string, string | boolean>): RegistrySession {
  const caPath = typeof v['ca-cert'] === 'string' ? v['ca-cert'] : undefined;
  let ca: string | undefined;
  if (caPath) {
    try {
      ca = readFileSync(caPath, 'utf8');
    } catch (e) {
      throw new UsageError(`--ca-cert ${caPath} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return new RegistrySession({
    url,
    insecure: v.insecure === true,
    ...(typeof v.username === 'string' ? { username: v.username } : {}),
    ...(typeof v.password === 'string' ? { password: v.password } : {}),
    ...(ca ? { ca } : {}),
  });
}
