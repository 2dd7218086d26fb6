/** `otaflux plugin init verifier`: the verifier plugin and its test. */
import type { Body } from './body.ts';

export const verifierBody = (id: string, fn: string): Body => ({
  plugin: `/**
 * ${id}: allows only artifacts whose digest is listed (replace with your own check: an HSM, a
 * signing service). Answers a verdict; never throws for an artifact it refuses.
 */
import { PLUGIN_API_VERSION, type Artifact, type DeviceRef, type Verdict, type VerifierPlugin } from 'otaflux';

export function ${fn}(options: { digests: string[] }): VerifierPlugin {
if (!options || !Array.isArray(options.digests)) throw new TypeError("${fn}(): pass digests: ['sha256:…']");
const allowed = new Set(options.digests);
return {
  kind: 'verifier',
  id: '${id}',
  apiVersion: PLUGIN_API_VERSION,
  async verify(_device: DeviceRef, artifact: Artifact): Promise<Verdict> {
    return allowed.has(artifact.digest) ? { ok: true, by: 'digest list' } : { ok: false, reason: 'not-listed', detail: artifact.digest };
  },
};
}
`,
  test: `import { expect, test } from 'bun:test';
import { checkPlugin, fakeArtifact, fakeDevice, runVerifier } from 'otaflux/testing';
import { ${fn} } from 'FILE';

const good = fakeArtifact(new TextEncoder().encode('signed image'));

test('passes the checks OtaFlux runs at load', () => {
expect(checkPlugin(${fn}({ digests: [] })).id).toBe('${id}');
});

test('allows a listed digest and refuses any other', async () => {
expect((await runVerifier(${fn}({ digests: [good.digest] }), fakeDevice('d'), good)).verdict).toEqual({ ok: true, by: 'digest list' });
const other = fakeArtifact(new TextEncoder().encode('other image'));
expect((await runVerifier(${fn}({ digests: [good.digest] }), fakeDevice('d'), other)).verdict).toMatchObject({ ok: false, reason: 'not-listed' });
});
`,
  use: `defaults: { verifier: ${fn}({ digests: ['sha256:…'] }) },`,
});
