/**
 * Which tar member is the firmware: the configured name or glob; else the only regular file; else
 * `firmware.bin`; else the only `*.bin`; else an error that lists the members.
 */
import { ExtractError } from '../errors.ts';
import type { TarEntry } from './entries.ts';

/** A regular file whose name is safe to select, with where its data is. */
export interface Candidate {
  name: string;
  size: number;
}

/**
 * The member name in canonical form (`./a/b.bin` → `a/b.bin`), or undefined when it must never be
 * selected: absolute, a drive letter, or with a `..` segment.
 */
export function safeMemberName(name: string): string | undefined {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  if (n === '' || n.startsWith('/') || n.startsWith('\\') || /^[A-Za-z]:/.test(n)) return undefined;
  if (n.split(/[\\/]+/).some((segment) => segment === '..')) return undefined;
  return n;
}

/** Whether `pattern` has glob characters (`*`, `?`, `[`, `{`). */
export function isGlob(pattern: string): boolean {
  return /[*?[{]/.test(pattern);
}

/**
 * Whether a member name matches a configured name or glob. A pattern without `/` matches the base
 * name (`*.bin` matches `out/fw.bin`); with `/` it matches the whole path.
 */
export function memberMatches(pattern: string, name: string): boolean {
  const p = safeMemberName(pattern) ?? pattern;
  const subject = p.includes('/') ? name : baseName(name);
  return isGlob(p) ? new Bun.Glob(p).match(subject) : subject === p;
}

/** Applies the selection rules, or throws an error naming the members. */
export function selectMember<C extends Candidate>(candidates: readonly C[], members: readonly TarEntry[], who: string, pattern?: string): C {
  if (members.length === 0) throw new ExtractError(`${who}: empty tar archive: it has no members`);
  if (pattern !== undefined) {
    const hits = candidates.filter((c) => memberMatches(pattern, c.name));
    if (hits.length === 1) return hits[0]!;
    if (hits.length === 0) throw new ExtractError(`${who}: no regular file in the tar archive matches '${clean(pattern)}'; members: ${listMembers(members)}`);
    throw new ExtractError(`${who}: several tar members match '${clean(pattern)}': ${hits.map((h) => clean(h.name)).join(', ')}; name one with tar({ member })`);
  }
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) throw new ExtractError(`${who}: the tar archive has no regular file to serve; members: ${listMembers(members)}`);
  const atRoot = candidates.find((c) => c.name === 'firmware.bin');
  if (atRoot) return atRoot;
  const named = candidates.filter((c) => baseName(c.name) === 'firmware.bin');
  if (named.length === 1) return named[0]!;
  const bins = candidates.filter((c) => /\.bin$/i.test(c.name));
  if (bins.length === 1) return bins[0]!;
  throw new ExtractError(
    `${who}: cannot tell which tar member is the firmware (no single regular file, no firmware.bin, ${bins.length === 0 ? 'no' : 'several'} *.bin); ` +
      `members: ${listMembers(members)}; name one with tar({ member: '…' })`,
  );
}

/** Members for an error message: `fw.bin (file, 12 bytes), lib -> /etc (symlink, ignored)`, at most 20. */
export function listMembers(members: readonly TarEntry[]): string {
  const shown = members.slice(0, 20).map((m) => {
    const name = clean(m.name);
    if (m.kind === 'file') return safeMemberName(m.name) ? `${name} (file, ${m.size} bytes)` : `${name} (unsafe path, ignored)`;
    if (m.kind === 'symlink' || m.kind === 'hardlink') return `${name} -> ${clean(m.linkName)} (${m.kind}, ignored)`;
    return `${name} (${m.kind === 'other' ? `type '${clean(m.typeFlag)}'` : m.kind}, ignored)`;
  });
  return shown.join(', ') + (members.length > 20 ? `, and ${members.length - 20} more` : '');
}

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** Strips control characters from names before they go into messages and logs. */
function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, '?');
}
