/**
 * The public API: what `otaflux.config.ts` and third-party plugins import from 'otaflux'.
 * The compiled binary registers this module under that name before it loads the config.
 */
export { defineConfig } from './config/define.ts';
export type { OtaFluxConfig, DeviceConfig, TlsConfig } from './config/define.ts';
export * from './plugin.ts';
export type { Release } from './core/release.ts';
export { UpstreamUnavailable } from './core/errors.ts';
export { parseVersionTag } from './core/versions.ts';
export { verifyDigestStream } from './core/hashing.ts';
// Built-in plugins, for compositions in otaflux.config.ts.
export { dir, type DirOptions } from './plugins/source/dir.ts';
export { oci, type OciOptions } from './plugins/source/oci/index.ts';
export { none } from './plugins/verifier/none.ts';
export { cosign, type CosignOptions } from './plugins/verifier/cosign/index.ts';
export { raw, gzip, zstd, tar, type TarOptions } from './plugins/extractor/index.ts';
// Device authenticators (issue 6).
export { token, mtls, type TokenOptions, type MtlsOptions, type CertField } from './plugins/auth/index.ts';
