import { expect, test } from 'bun:test';
import { responseHead, responseMessage, sharedHeaders } from '../../src/http/response-writer.ts';

const text = (m: string | Buffer) => (typeof m === 'string' ? m : m.toString('utf8'));

test('a shared header set gives the same bytes as a head built for the request', () => {
  const headers = sharedHeaders({ 'content-type': 'text/plain; charset=utf-8', 'content-length': '21' });
  const body = '1.0.0\n3340501009\n4096';
  for (const keepAlive of [true, false]) {
    for (const b of [body, null]) {
      const m = responseMessage(200, headers, keepAlive, b);
      const expected = responseHead(200, headers, keepAlive) + (b ?? '');
      // Built in the same second as `expected` unless the second turned in between: then ask again.
      expect(text(m) === expected || text(responseMessage(200, headers, keepAlive, b)) === responseHead(200, headers, keepAlive) + (b ?? '')).toBe(true);
    }
  }
  expect(Object.isFrozen(headers)).toBe(true);
});

test('a shared header set is encoded once a second, and again for another body or status', () => {
  const headers = sharedHeaders({ 'content-length': '2' });
  const a = responseMessage(200, headers, true, 'ab');
  const again = responseMessage(200, headers, true, 'ab');
  const same = a === again || text(a).match(/Date: .*/)?.[0] !== text(again).match(/Date: .*/)?.[0];
  expect(same).toBe(true);
  expect(text(responseMessage(200, headers, true, 'cd')).endsWith('\r\n\r\ncd')).toBe(true);
  expect(text(responseMessage(404, headers, true, 'cd')).startsWith('HTTP/1.1 404 Not Found\r\n')).toBe(true);
  expect(text(responseMessage(200, headers, false, 'cd'))).toContain('Connection: close\r\n\r\ncd');
});

test('other header sets are built per request, as text', () => {
  const m = responseMessage(200, { 'content-length': '1' }, true, 'x');
  expect(typeof m).toBe('string');
  expect(m).toBe(responseHead(200, { 'content-length': '1' }, true) + 'x');
});

test('a body that is not ASCII is written as UTF-8 from the shared bytes too', () => {
  const headers = sharedHeaders({ 'content-length': String(Buffer.byteLength('é')) });
  const m = responseMessage(200, headers, true, 'é');
  expect(Buffer.isBuffer(m)).toBe(true);
  expect((m as Buffer).subarray(-2)).toEqual(Buffer.from('é'));
});
