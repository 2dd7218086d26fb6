/** The built-in extractors: factories returning `ExtractorPlugin`s, for configs and the host. */
export { raw } from './raw.ts';
export { gzip } from './gzip.ts';
export { zstd } from './zstd.ts';
export { tar, type TarOptions } from './tar.ts';
export { ExtractError, ExtractLimitError } from './errors.ts';
