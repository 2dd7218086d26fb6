/**
 * Repository names: `{prefix}/{device}`, or `{device}` when the prefix is empty (one trailing `/`
 * of the prefix is dropped, as the Rust server does). Names follow the distribution spec's grammar
 * and are at most 255 characters, so they are safe inside a registry URL.
 */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
export const MAX_REPOSITORY_LENGTH = 255;

/** The prefix as configured, with one trailing `/` dropped; checked against the grammar. */
export function normalisePrefix(prefix: string): string {
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p !== '' && !NAME.test(p)) throw new TypeError(`repository prefix '${prefix}' is not a valid repository path (lowercase letters, digits, '.', '_', '-', '/')`);
  return p;
}

export function repositoryFor(prefix: string, device: string): string {
  const name = prefix ? `${prefix}/${device}` : device;
  assertRepository(name);
  return name;
}

export function assertRepository(name: string): void {
  if (name.length > MAX_REPOSITORY_LENGTH) throw new TypeError(`repository name '${name.slice(0, 40)}…' is longer than ${MAX_REPOSITORY_LENGTH} characters`);
  if (!NAME.test(name)) throw new TypeError(`'${name}' is not a valid repository name`);
}
