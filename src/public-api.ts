/**
 * The public API: what `otaflux.config.ts` and third-party plugins import from 'otaflux'.
 * The compiled binary registers this module under that name before it loads the config.
 */
import { builtInFactory } from './core/plugin-checks.ts';
import { dir as dirFactory } from './plugins/source/dir.ts';
import { oci as ociFactory } from './plugins/source/oci/index.ts';
import { none as noneFactory } from './plugins/verifier/none.ts';
import { cosign as cosignFactory } from './plugins/verifier/cosign/index.ts';
import * as extractors from './plugins/extractor/index.ts';
import * as authenticators from './plugins/auth/index.ts';

export { defineConfig } from './config/define.ts';
export type { OtaFluxConfig, DeviceConfig, TlsConfig } from './config/define.ts';
export * from './plugin.ts';
export type { Release } from './core/release.ts';
export * from './sdk/index.ts';
export { BUILT_IN_IDS, REQUIRED_METHODS, pluginProblems } from './core/plugin-checks.ts';
export type { DirOptions } from './plugins/source/dir.ts';
export type { OciOptions } from './plugins/source/oci/index.ts';
export type { CosignOptions } from './plugins/verifier/cosign/index.ts';
export type { TarOptions } from './plugins/extractor/index.ts';
export type { TokenOptions, MtlsOptions, CertField } from './plugins/auth/index.ts';

// Built-in plugins, for compositions in otaflux.config.ts. Only the plugins these make may carry a
// built-in id (source.dir, verifier.cosign, ...): a config file's other plugins are refused with one.
export const dir: typeof dirFactory = builtInFactory(dirFactory);
export const oci: typeof ociFactory = builtInFactory(ociFactory);
export const none: typeof noneFactory = builtInFactory(noneFactory);
export const cosign: typeof cosignFactory = builtInFactory(cosignFactory);
export const raw: typeof extractors.raw = builtInFactory(extractors.raw);
export const gzip: typeof extractors.gzip = builtInFactory(extractors.gzip);
export const zstd: typeof extractors.zstd = builtInFactory(extractors.zstd);
export const tar: typeof extractors.tar = builtInFactory(extractors.tar);
// Device authenticators.
export const token: typeof authenticators.token = builtInFactory(authenticators.token);
export const mtls: typeof authenticators.mtls = builtInFactory(authenticators.mtls);
