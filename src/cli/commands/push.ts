/**
 * `otaflux push <file> --device <device|repository> --version <semver>`: publishes a firmware file to
 * the registry as `oras push` does, in the shape the OCI source reads (src/oci-push/artifact.ts). An
 * existing version tag is refused unless `--force`. Prints the manifest digest on stdout (what
 * `otaflux sign` signs); progress goes to stderr.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { UsageError } from '../flags.ts';
import { parseVersionTag } from '../../core/versions.ts';
import { normalisePrefix, repositoryFor } from '../../plugins/source/oci/repository.ts';
import { pushFirmware } from '../../oci-push/artifact.ts';
import { CHUNK_BYTES } from '../../oci-push/upload.ts';
import { ownFlagsCommand, type CommandFlag } from './command-flags.ts';
import { REGISTRY_FLAGS, sessionFrom } from './registry-flags.ts';
import { byteProgress } from './byte-progress.ts';

const FLAGS: readonly CommandFlag[] = [
  { name: 'device', type: 'string', help: 'Device id (repository {prefix}/{device}), or a repository path with a /' },
  { name: 'version', type: 'string', help: 'Version tag: semver, e.g. 1.4.0 or v1.4.0' },
  { name: 'registry', type: 'string', help: 'Registry: host:port, https://host or http://host:port', env: 'REGISTRY_URL' },
  { name: 'prefix', type: 'string', help: 'Repository prefix put before a device id', env: 'REPOSITORY_PREFIX' },
  { name: 'media-type', type: 'string', help: 'Layer media type (default: application/vnd.oci.image.layer.v1.tar, as oras)' },
  { name: 'force', type: 'boolean', help: 'Replace the version tag when it exists (refused otherwise)' },
  ...REGISTRY_FLAGS,
];

export const pushCommand = ownFlagsCommand({
  name: 'push',
  usage: 'push <file> --device D --version V',
  help: 'Publish a firmware file to the registry (as oras push); refuses an existing version',
  synopsis: 'push <file> --device ID --version SEMVER [flags]',
  about: 'Publishes a firmware file to an OCI registry as `oras push` does, for the OCI source to serve.',
  argument: 'one file',
  flags: FLAGS,
  main: push,
});

async function push(v: Record<string, string | boolean>, file: string): Promise<number> {
  const device = str(v.device), version = str(v.version), registry = str(v.registry);
  if (!device) throw new UsageError('push: --device is required (a device id, or a repository path)');
  if (!version) throw new UsageError('push: --version is required (semver, e.g. 1.4.0)');
  if (!parseVersionTag(version)) throw new UsageError(`push: --version '${version}' is not semver (e.g. 1.4.0, v1.4.0, 2.0.0-rc.1): the server serves only semver tags`);
  if (!registry) throw new UsageError('push: --registry is required (or env REGISTRY_URL)');
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
  } catch {
    throw new UsageError(`push: ${file} is not a readable file`);
  }
  let repository: string;
  try {
    repository = device.includes('/') ? repositoryFor('', device) : repositoryFor(normalisePrefix(str(v.prefix) ?? ''), device);
  } catch (e) {
    throw new UsageError(`push: ${(e as Error).message}`);
  }
  const session = sessionFrom(registry, v);
  const progress = byteProgress(process.stderr, basename(file));
  let r: Awaited<ReturnType<typeof pushFirmware>>;
  try {
    r = await pushFirmware(session, {
      repository,
      tag: version,
      file,
      ...(str(v['media-type']) ? { mediaType: str(v['media-type']) as string } : {}),
      force: v.force === true,
      onStart: (size) => { if (size > CHUNK_BYTES) progress.start(size); },
      progress: (sent, total) => { if (total > CHUNK_BYTES) progress.update(sent); },
    });
  } finally {
    progress.done();
  }
  if (r.unchanged) {
    process.stdout.write(`unchanged ${session.host}/${repository}:${version} ${r.digest} (${r.size} bytes)\n`);
    process.stderr.write('the version already holds this file: nothing was written\n');
    return 0;
  }
  if (r.replaced) process.stderr.write(`replaced ${session.host}/${repository}:${version} (was ${r.replaced})\n`);
  if (!r.uploaded) process.stderr.write(`the registry already had the bytes of ${file}: only the manifest was written\n`);
  process.stdout.write(`pushed ${session.host}/${repository}:${version} ${r.digest} (${r.size} bytes)\n`);
  process.stderr.write(`sign it with: otaflux sign ${session.host}/${repository}@${r.digest} --key cosign.key\n`);
  return 0;
}

function str(x: string | boolean | undefined): string | undefined {
  return typeof x === 'string' && x !== '' ? x : undefined;
}
