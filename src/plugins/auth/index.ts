/** Device authenticators: `token({...})` and `mtls({...})`. */
export { token, type TokenOptions } from './token.ts';
export { mtls, type MtlsOptions, type CertField } from './mtls.ts';
export { hashToken, newToken } from './token-hash.ts';
