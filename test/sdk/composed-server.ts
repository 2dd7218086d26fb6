/**
 * A test server whose every device has one composition, built in the test (a memory source holding
 * 1.0.0, the `none` verifier, `auth: 'none'` unless `comp` says otherwise), for the SDK's contract
 * tests over real sockets. `closeComposedServers` (in `afterEach`) stops the ones started.
 */
import { startTestServer, type TestServer } from '../support/server.ts';
import { memorySource } from '../support/test-plugins.ts';
import { tempDir } from '../support/tmp.ts';
import { firmwareDir } from '../support/firmware-dir.ts';
import { Composer, type Composition } from '../../src/core/composition.ts';
import { none } from '../../src/plugins/verifier/none.ts';

const servers: TestServer[] = [];

export async function serve(comp: Partial<Composition>): Promise<TestServer> {
  const source = memorySource({ '1.0.0': new TextEncoder().encode('firmware one') });
  const s = await startTestServer({
    flags: { 'firmware-dir': firmwareDir({ x: {} }).root, 'cache-dir': tempDir(), 'refresh-interval': 60 },
    edit(settings) {
      settings.composer = new Composer([], { source, verifier: none(), extract: 'auto', auth: 'none', allowPrerelease: false, options: {}, matchedBy: 'defaults', ...comp });
    },
  });
  servers.push(s);
  return s;
}

export async function closeComposedServers(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => s.close()));
}
