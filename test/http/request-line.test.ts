import { expect, test } from 'bun:test';
import { readHead } from '../../src/http/request-head.ts';

/** RFC 9112's request line as this server accepts it (the grammar request-head.ts documents). */
const GRAMMAR = /^([A-Z]+) (\/[\x21-\x7e]*) (HTTP\/\d(?:\.\d)?)$/;

const lines = [
  'GET /version?device=a HTTP/1.1', 'GET /version HTTP/1.0', 'HEAD /firmware?device=a&instance=u HTTP/1.1', 'GET / HTTP/1.1',
  'POST /webhooks/harbor HTTP/1.1', 'GET /a%20b?x=%2F HTTP/1.1', 'MKCALENDAR /x HTTP/1.1', 'AVERYLONGMETHODNAMEXX /x HTTP/1.1',
  'AVERYLONGMETHODNAMEX /x HTTP/1.1', 'get /version HTTP/1.1', 'GET version HTTP/1.1', 'GET  /version HTTP/1.1', 'GET /version  HTTP/1.1',
  'GET /version HTTP/1.1 ', 'GET /ver sion HTTP/1.1', 'GET /version HTTP/2.0', 'GET /version HTTP/2', 'GET /version HTTP/1.2', 'GET /version HTTP/1.',
  'GET /version HTTP/1.11', 'GET /version http/1.1', 'GET /version\tHTTP/1.1', 'GET\t/version HTTP/1.1', 'GET /version', 'GET', 'G /x HTTP/1.1',
  'GET /é HTTP/1.1', 'GET /\x7f HTTP/1.1', 'GET /x~!$&\'()*+,;=:@ HTTP/1.1', ' GET /x HTTP/1.1', 'GET / HTTP/1.1x',
];

for (const line of lines) {
  test(`the request line ${JSON.stringify(line)} is read as the grammar says`, () => {
    for (const eol of ['\r\n', '\n']) {
      const out = readHead(Buffer.from(`${line}${eol}Host: h${eol}${eol}`, 'latin1'), 0, 16384);
      const m = GRAMMAR.exec(line);
      if (!m) {
        expect(out.kind).toBe('error');
        continue;
      }
      if (m[3] !== 'HTTP/1.1' && m[3] !== 'HTTP/1.0') {
        expect(out).toEqual({ kind: 'error', status: 505, message: 'HTTP Version Not Supported' });
        continue;
      }
      if (out.kind !== 'head') throw new Error(`expected a head, got ${JSON.stringify(out)}`);
      expect([out.head.method, out.head.target]).toEqual([m[1] as string, m[2] as string]);
      expect(out.head.keepAlive).toBe(m[3] === 'HTTP/1.1');
    }
  });
}

test('header values lose the whitespace around them, names are lower-cased, lines read in place', () => {
  const out = readHead(Buffer.from('GET /x HTTP/1.1\r\nHost:  h \t\r\nX-A:\tv 1\r\nx-empty:\r\nX-Tab: \t \r\nX-A: two\n\r\n'), 0, 16384);
  if (out.kind !== 'head') throw new Error(JSON.stringify(out));
  expect({ ...out.head.headers }).toEqual({ host: 'h', 'x-a': 'v 1, two', 'x-empty': '', 'x-tab': '' });
  expect(out.head.body).toBeNull();
});

test('malformed header lines are refused with the reason', () => {
  const reason = (h: string) => {
    const out = readHead(Buffer.from(`GET /x HTTP/1.1\r\n${h}\r\n\r\n`), 0, 16384);
    return out.kind === 'error' ? out.message : out.kind;
  };
  expect(reason(' folded: x')).toBe('Bad Request: folded header line (obs-fold)');
  expect(reason('\tfolded: x')).toBe('Bad Request: folded header line (obs-fold)');
  expect(reason(': x')).toBe('Bad Request: header line without a field name and colon');
  expect(reason('no-colon')).toBe('Bad Request: header line without a field name and colon');
  expect(reason('Host: h\r\nno-colon\r\nX: a:b')).toBe('Bad Request: header line without a field name and colon');
  expect(reason('Na me: x')).toBe('Bad Request: invalid header field name');
  expect(reason('Name : x')).toBe('Bad Request: whitespace before the colon of a header field');
  expect(reason('Name: a\x01b')).toBe('Bad Request: control character in a header field value');
  expect(reason('Name: a\x7f')).toBe('Bad Request: control character in a header field value');
  expect(reason('Name: a\rb')).toBe('Bad Request: control character in a header field value');
});
