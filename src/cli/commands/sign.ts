/**
 * `otaflux sign <host>/<repository>:<tag>|@<digest> --key cosign.key`: signs one manifest digest with
 * a cosign key read on this machine (the key never leaves it), in the layout `--layout` names
 * (src/oci-push/signatures.ts). Offline like `cosign sign --tlog-upload=false`: no Rekor entry, no
 * Fulcio certificate; verify with `cosign verify --key cosign.pub --insecure-ignore-tlog`.
 */
import { UsageError } from '../flags.ts';
import { PublishError } from '../../oci-push/errors.ts';
import { readManifest } from '../../oci-push/manifests.ts';
import { loadSigningKey } from '../../oci-push/private-key.ts';
import { parseReference } from '../../oci-push/reference.ts';
import { signBundle, signLegacy } from '../../oci-push/signatures.ts';
import { ownFlagsCommand, type CommandFlag } from './command-flags.ts';
import { REGISTRY_FLAGS, sessionFrom } from './registry-flags.ts';

const LAYOUTS = ['legacy', 'bundle', 'both'] as const;

const FLAGS: readonly CommandFlag[] = [
  { name: 'key', type: 'string', help: 'cosign.key (password from env COSIGN_PASSWORD) or an unencrypted PEM private key (ECDSA P-256, Ed25519)' },
  { name: 'layout', type: 'string', help: 'legacy (tag sha256-<hex>.sig, the default), bundle (Sigstore bundle, as cosign 3) or both' },
  ...REGISTRY_FLAGS,
];

export const signCommand = ownFlagsCommand({
  name: 'sign',
  usage: 'sign <host>/<repo>:<tag> --key K',
  help: 'Sign a pushed release with a cosign key, offline (legacy .sig or Sigstore bundle)',
  synopsis: 'sign <host>/<repository>:<tag>|@<digest> --key cosign.key [flags]',
  about: 'Signs a manifest digest with a cosign key, offline (no transparency log): cosign verify --key cosign.pub --insecure-ignore-tlog accepts it.',
  argument: 'one image reference',
  flags: FLAGS,
  main: sign,
});

async function sign(v: Record<string, string | boolean>, image: string, env: Record<string, string | undefined>): Promise<number> {
  const keyPath = typeof v.key === 'string' ? v.key : undefined;
  if (!keyPath) throw new UsageError('sign: --key is required (cosign.key, or a PEM private key)');
  const layout = typeof v.layout === 'string' ? v.layout : 'legacy';
  if (!(LAYOUTS as readonly string[]).includes(layout)) throw new UsageError(`sign: --layout must be legacy, bundle or both, got '${layout}'`);
  let ref: ReturnType<typeof parseReference>;
  try {
    ref = parseReference(image);
  } catch (e) {
    throw new UsageError(`sign: ${(e as Error).message}`);
  }
  // The key first: a wrong password costs nothing at the registry.
  const key = loadSigningKey(keyPath, env.COSIGN_PASSWORD);
  const session = sessionFrom(ref.host, v);
  const reference = ref.digest ?? (ref.tag as string);
  const manifest = await readManifest(session, ref.repository, reference);
  const where = `${session.host}/${ref.repository}`;
  if (!manifest) throw new PublishError(`${where}${ref.digest ? `@${ref.digest}` : `:${ref.tag}`} does not exist: push it first (otaflux push)`);
  if (ref.digest && manifest.digest !== ref.digest) throw new PublishError(`${where}@${ref.digest}: the registry sent a manifest whose digest is ${manifest.digest}`);
  const target = { repository: ref.repository, manifest };
  const done: string[] = [];
  if (layout === 'legacy' || layout === 'both') done.push(`legacy signature in tag ${await signLegacy(session, key, target)}`);
  if (layout === 'bundle' || layout === 'both') {
    const b = await signBundle(session, key, target);
    done.push(`Sigstore bundle ${b.digest} listed in ${b.listedIn}`);
  }
  process.stdout.write(`signed ${where}@${manifest.digest} with a ${key.kind} key: ${done.join('; ')} (no transparency log)\n`);
  return 0;
}
