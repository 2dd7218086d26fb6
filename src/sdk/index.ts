/**
 * The run-time helpers of the public API: what OtaFlux's own plugins use and a third-party plugin
 * imports from 'otaflux' (version parsing, single flight, digest-checking streams, error classes,
 * certificate description). Built-in plugins import only this module and the contract (../plugin.ts);
 * test/sdk/import-boundary.test.ts holds them to it.
 */
export { parseVersionTag, rankVersions } from './versions.ts';
export { SingleFlight } from './single-flight.ts';
export { sha256Digest, verifyDigestStream } from './digest.ts';
export { FirmwareNotFound, UpstreamUnavailable, errorMessage } from './errors.ts';
export { describeCert } from './certificate.ts';
