/** Errors raised by extractors themselves (as opposed to errors of their input, passed on unchanged). */
export class ExtractError extends Error {
  override name = 'ExtractError';
}

/** An output over `ExtractLimits` (size or ratio): a likely decompression bomb. */
export class ExtractLimitError extends ExtractError {
  override name = 'ExtractLimitError';
}
