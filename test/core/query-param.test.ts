import { describe, expect, test } from 'bun:test';
import { queryParam } from '../../src/core/query-param.ts';

/** A request's query read lazily, as the device listener builds it. */
function lazy(raw: string) {
  return { rawQuery: raw, parsedQuery: undefined as URLSearchParams | undefined, get query() { return (this.parsedQuery ??= new URLSearchParams(this.rawQuery)); } };
}

describe('queryParam', () => {
  const queries = [
    '', 'device=a', 'device=a&instance=u-1', 'instance=u-1&device=a', 'device=a&device=b', 'device', 'device=', '=x&device=a',
    'devices=a&device=b', 'xdevice=a', 'device=a=b', '&&device=a&&', 'device=%61', 'device=a+b', 'dev%69ce=a', '?device=a', '??device=a',
    'device=a#frag', 'current=v1.2.3&device=esp32', 'a=1&b=2&c=3&current=', 'device=a;instance=b',
  ];
  for (const raw of queries) {
    test(`answers as URLSearchParams does for ${JSON.stringify(raw)}`, () => {
      const parsed = new URLSearchParams(raw);
      for (const name of ['device', 'instance', 'current', 'a', 'devices', '']) {
        const f = lazy(raw);
        expect(queryParam(f, name)).toBe(parsed.get(name));
        // Read from the raw string: nothing was parsed, unless it had to be decoded.
        if (!/[%+]|^\?/.test(raw)) expect(f.parsedQuery).toBeUndefined();
      }
    });
  }

  test('once parsed, the parsed parameters answer (they may have been changed)', () => {
    const f = lazy('device=a&instance=u-1');
    f.query.set('instance', 'u-2');
    expect(queryParam(f, 'instance')).toBe('u-2');
  });

  test('without a raw query string, the parameters answer', () => {
    expect(queryParam({ query: new URLSearchParams('device=z') }, 'device')).toBe('z');
  });
});
