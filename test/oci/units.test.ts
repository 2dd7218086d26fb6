/** Small pure parts of the registry client: challenges, registry URLs, repository names. */
import { expect, test } from 'bun:test';
import { parseChallenge } from '../../src/plugins/source/oci/auth.ts';
import { parseRegistryUrl } from '../../src/plugins/source/oci/registry-url.ts';
import { normalisePrefix, repositoryFor } from '../../src/plugins/source/oci/repository.ts';

test('WWW-Authenticate challenges', () => {
  expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:fw/a:pull"')).toEqual({
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:fw/a:pull' },
  });
  expect(parseChallenge('Basic realm="Registry \\"x\\""')).toEqual({ scheme: 'basic', params: { realm: 'Registry "x"' } });
  expect(parseChallenge('bearer realm=https://a/t, scope="repository:a:pull repository:b:pull"')?.params).toEqual({ realm: 'https://a/t', scope: 'repository:a:pull repository:b:pull' });
  expect(parseChallenge(null)).toBeNull();
});

test('registry urls: host:port, https://host, http://host:port', () => {
  expect(parseRegistryUrl('ghcr.io')).toEqual({ origin: 'https://ghcr.io', host: 'ghcr.io', secure: true });
  expect(parseRegistryUrl('127.0.0.1:5000', true)).toEqual({ origin: 'http://127.0.0.1:5000', host: '127.0.0.1:5000', secure: false });
  expect(parseRegistryUrl('https://harbor.example:8443/')).toEqual({ origin: 'https://harbor.example:8443', host: 'harbor.example:8443', secure: true });
  expect(parseRegistryUrl('https://harbor.example', true).secure).toBe(true);
  expect(() => parseRegistryUrl('https://user:pw@h')).toThrow('must not carry credentials');
  expect(() => parseRegistryUrl('')).toThrow('registry url is empty');
});

test('repository names: prefix, one trailing slash dropped, 255 characters at most', () => {
  expect(repositoryFor(normalisePrefix('firmware/'), 'esp32-a')).toBe('firmware/esp32-a');
  expect(repositoryFor(normalisePrefix(''), 'esp32-a')).toBe('esp32-a');
  expect(() => repositoryFor('fw', 'UPPER')).toThrow('is not a valid repository name');
  expect(() => repositoryFor('a'.repeat(250), 'abcdef')).toThrow('longer than 255 characters');
  expect(repositoryFor('a'.repeat(249), 'abcde')).toHaveLength(255);
});

test('which registry errors are "source unavailable" (503) and which are bad content (502)', async () => {
  const { statusError, RegistryError } = await import('../../src/plugins/source/oci/errors.ts');
  const { isSourceUnavailable, operatorSummary, UpstreamUnavailable } = await import('../../src/core/errors.ts');
  const what = 'listing tags of r/fw/x';
  for (const status of [401, 403]) {
    const e = statusError(what, status);
    expect(isSourceUnavailable(e)).toBe(true);
    expect(operatorSummary(e)).toContain('--registry-username');
  }
  expect(isSourceUnavailable(new RegistryError('tls', `${what}: not trusted`))).toBe(true);
  expect(operatorSummary(new RegistryError('tls', `${what}: not trusted`))).toContain('--registry-ca-cert-path');
  expect(isSourceUnavailable(new RegistryError('plain-http', `${what}: plain`))).toBe(true);
  expect(isSourceUnavailable(new UpstreamUnavailable('down'))).toBe(true);
  for (const e of [statusError(what, 404), statusError(what, 400), new RegistryError('digest-mismatch', 'x'), new RegistryError('bad-response', 'x'), new Error('corrupt archive')]) {
    expect(isSourceUnavailable(e)).toBe(false);
    expect(operatorSummary(e)).toBeUndefined();
  }
});
