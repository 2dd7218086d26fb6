/**
 * `otaflux/testing`: test a plugin outside a server, through the same checks and lifecycle the host
 * runs. Fakes for what the host hands a plugin, and `run*` helpers per kind.
 *
 *     import { checkPlugin, fakeDevice, runSource } from 'otaflux/testing';
 *     const { chosen, bytes } = await runSource(myPlugin(opts), fakeDevice('esp32-demo'));
 */
export { fakeContext, fakeDevice, fakeLogger, fakeRequest, type CapturingLogger, type FakeContext, type LoggedLine, type LogLevelName } from './fakes.ts';
export { checkPlugin, fakeArtifact, PluginCheckError, runAuthenticator, runExtractor, runSource, runVerifier, type SourceRun } from './harness.ts';
