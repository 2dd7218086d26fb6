/**
 * Device ids end up in registry URLs and file paths, so they are checked before anything else:
 * the OCI repository grammar (distribution spec), and at most 255 characters together with the
 * repository prefix.
 */
import { InvalidDevice } from './errors.ts';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
export const MAX_REPOSITORY_LENGTH = 255;

/** Returns the id if valid, else throws InvalidDevice with the reason. */
export function validateDeviceId(id: string, prefix = ''): string {
  if (id.length > MAX_REPOSITORY_LENGTH) throw new InvalidDevice('longer than 255 characters');
  if (!REPOSITORY.test(id)) throw new InvalidDevice('not an OCI repository name');
  const full = prefix ? `${prefix}/${id}` : id;
  if (full.length > MAX_REPOSITORY_LENGTH) throw new InvalidDevice('longer than 255 characters with the repository prefix');
  return id;
}
