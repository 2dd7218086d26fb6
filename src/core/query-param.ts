/**
 * A device request's query string, parsed into URLSearchParams only when something needs all of it
 * (an authenticator, a protocol). A poll reads a few parameters (`device`, `instance`, `current`):
 * `queryParam` finds them in the raw string, with the same answer URLSearchParams would give.
 */

/** What a request carries of its query. */
export interface QuerySource {
  /** Parsed from `rawQuery` the first time it is read, when that is given. */
  query: URLSearchParams;
  /** The query string as received (no leading `?`), when `query` is parsed only on demand. */
  rawQuery?: string;
  /** `query`, once parsed (then the only truth: it may have been changed). */
  parsedQuery?: URLSearchParams | undefined;
}

/**
 * The first value of parameter `name`, or null, as `query.get(name)` would answer. Read from the raw
 * string when it holds nothing to decode (`%`, `+`) and no leading `?`; otherwise from `query`.
 */
export function queryParam(f: QuerySource, name: string): string | null {
  const raw = f.rawQuery;
  if (raw === undefined || f.parsedQuery !== undefined || raw.includes('%') || raw.includes('+') || raw.startsWith('?')) return f.query.get(name);
  const n = raw.length;
  for (let i = 0; i < n;) {
    let amp = raw.indexOf('&', i);
    if (amp < 0) amp = n;
    const eq = raw.indexOf('=', i);
    const keyEnd = eq >= 0 && eq < amp ? eq : amp;
    if (amp > i && keyEnd - i === name.length && raw.startsWith(name, i)) return keyEnd === amp ? '' : raw.slice(keyEnd + 1, amp);
    i = amp + 1;
  }
  return null;
}
