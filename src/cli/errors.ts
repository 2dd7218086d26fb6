import { UsageError } from './flags.ts';
import { ConfigError } from '../config/load.ts';
import { PluginStartError } from '../core/plugin-host.ts';

/**
 * StartupError is an operator mistake found while starting (a port in use, an unreadable file, a
 * cache folder that cannot be written): its message is the one line that says what to change, and
 * the process exits 1 without a stack trace.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Errors of other areas whose message is already the one line for the operator (by name, to keep imports one-way). */
const OPERATOR_ERROR_NAMES = new Set(['OperatorError', 'StoreTooNew', 'StoreUnavailable']);

/** An operator mistake: a usage, config, plugin start-up or start-up error, whose message says what to change. */
export function isOperatorError(e: unknown): e is Error {
  return e instanceof UsageError || e instanceof ConfigError || e instanceof PluginStartError || e instanceof StartupError || (e instanceof Error && OPERATOR_ERROR_NAMES.has(e.name));
}

/**
 * Prints `otaflux: <message>` on stderr and returns the exit code: 2 for usage and config errors, 1
 * for start-up failures. Only an error that is not an operator mistake (a bug) gets its stack.
 */
export function fail(e: unknown): number {
  const message = e instanceof Error ? e.message : String(e);
  const text = isOperatorError(e) ? message : `unexpected error (a bug: please report it with what follows): ${e instanceof Error ? (e.stack ?? message) : message}`;
  process.stderr.write(`otaflux: ${text}\n`);
  return e instanceof UsageError || e instanceof ConfigError ? 2 : 1;
}
