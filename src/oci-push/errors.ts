/**
 * PublishError is what `otaflux push` and `otaflux sign` report: one line saying what failed and what
 * to do, never a credential or a stack trace. Its name makes the CLI print it as an operator error.
 */
export class PublishError extends Error {
  override readonly name = 'OperatorError';
}
