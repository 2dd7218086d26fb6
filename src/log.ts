/**
 * The logger: levels as the Rust server's `--log-level` (off, error, warn, info, debug, trace),
 * JSON lines when stderr is not a terminal (or `--log-format json`), readable text on one.
 */
import type { Logger } from './plugin.ts';

export const LOG_LEVELS = ['off', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'text';

const rank: Record<LogLevel, number> = { off: 0, error: 1, warn: 2, info: 3, debug: 4, trace: 5 };

export interface LogSink { write(line: string): void }

const stderrSink: LogSink = { write: (line) => process.stderr.write(line) };

export interface LoggerOptions {
  level: LogLevel;
  format?: LogFormat;
  sink?: LogSink;
}

/** Creates the root logger. Field values are printed as given: callers never pass secrets. */
export function createLogger(opts: LoggerOptions, fields: Record<string, unknown> = {}): Logger {
  const format = opts.format ?? (process.stderr.isTTY ? 'text' : 'json');
  const sink = opts.sink ?? stderrSink;
  const max = rank[opts.level];
  const emit = (level: Exclude<LogLevel, 'off'>, msg: string, extra?: Record<string, unknown>) => {
    if (rank[level] > max) return;
    const all = extra ? { ...fields, ...extra } : fields;
    sink.write(format === 'json' ? jsonLine(level, msg, all) : textLine(level, msg, all));
  };
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    trace: (m, f) => emit('trace', m, f),
    child: (more) => createLogger({ ...opts, format, sink }, { ...fields, ...more }),
  };
}

function jsonLine(level: string, msg: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }, jsonSafe) + '\n';
}

function textLine(level: string, msg: string, fields: Record<string, unknown>): string {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? quoteIfNeeded(v) : JSON.stringify(v, jsonSafe)}`);
  return `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${parts.length ? ' ' + parts.join(' ') : ''}\n`;
}

function quoteIfNeeded(s: string): string {
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}
