/**
 * Image references as cosign takes them: `host[:port]/repository:tag`, `host[:port]/repository@sha256:…`
 * (or both: the digest wins). The first part must be a registry host (it has a dot or a port, or is
 * `localhost`): OtaFlux has no default registry.
 */
import { PublishError } from './errors.ts';
import { assertRepository } from '../plugins/source/oci/repository.ts';

export interface ImageReference {
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function parseReference(ref: string): ImageReference {
  const usage = `'${ref}' is not host[:port]/repository:tag or host[:port]/repository@sha256:<hex>`;
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const rest = at >= 0 ? ref.slice(0, at) : ref;
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new PublishError(usage);
  const host = rest.slice(0, slash);
  if (!/[.:]/.test(host) && host !== 'localhost') throw new PublishError(`${usage}: '${host}' is not a registry host (it needs a dot or a port)`);
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw new PublishError(`${usage}: '${tag}' is not a valid tag`);
  }
  if (digest !== undefined && !DIGEST.test(digest)) throw new PublishError(`${usage}: '${digest}' is not a sha256 digest`);
  if (!tag && !digest) throw new PublishError(`${usage}: name the tag or the digest to sign`);
  try {
    assertRepository(path);
  } catch (e) {
    throw new PublishError(`${usage}: ${(e as Error).message}`);
  }
  return { host, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}
