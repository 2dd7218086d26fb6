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

/**
 * Lines to stderr, gathered and written once per turn of the event loop (or at 64 KiB): under load a
 * request line per answer would otherwise cost a write(2) each, about a third of a /version answer.
 * Whatever is gathered is written before the process exits.
 */
class BufferedStderr implements LogSink {
  private lines: string[] = [];
  private bytes = 0;
  private scheduled = false;
  private readonly flushSoon = () => this.flush();

  constructor() {
    process.once('exit', this.flushSoon);
  }

  write(line: string): void {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= 64 * 1024) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    process.stderr.write(text);
  }
}

let stderrSink: LogSink | undefined;

export interface LoggerOptions {
  level: LogLevel;
  format?: LogFormat;
  sink?: LogSink;
}

/** Creates the root logger. Field values are printed as given: callers never pass secrets. */
export function createLogger(opts: LoggerOptions, fields: Record<string, unknown> = {}): Logger {
  const format = opts.format ?? (process.stderr.isTTY ? 'text' : 'json');
  const sink = opts.sink ?? (stderrSink ??= new BufferedStderr());
  const max = rank[opts.level];
  let hasFields = false;
  for (const _ in fields) hasFields = true;
  const emit = (level: Exclude<LogLevel, 'off'>, msg: string, extra?: Record<string, unknown>) => {
    if (rank[level] > max) return;
    const all = extra ? (hasFields ? { ...fields, ...extra } : extra) : fields;
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
  // Built around one stringify of the fields (no copy of them); the replacer costs a call per key,
  // so only lines with values that need it (errors, bigints) pay for it.
  const rest = JSON.stringify(fields, needsReplacer(fields) ? jsonSafe : undefined);
  return `{"time":"${now()}","level":"${level}","msg":${JSON.stringify(msg)}${rest.length > 2 ? `,${rest.slice(1)}` : '}'}\n`;
}

function textLine(level: string, msg: string, fields: Record<string, unknown>): string {
  // An undefined field is left out, as JSON.stringify leaves it out of JSON lines.
  const parts = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${typeof v === 'string' ? quoteIfNeeded(v) : JSON.stringify(v, jsonSafe)}`);
  return `${now()} ${level.toUpperCase().padEnd(5)} ${msg}${parts.length ? ' ' + parts.join(' ') : ''}\n`;
}

function needsReplacer(fields: Record<string, unknown>): boolean {
  for (const k in fields) {
    const t = typeof fields[k];
    if (t === 'object' || t === 'bigint') return true;
  }
  return false;
}

let isoAt = 0;
let iso = '';
/** The current time as ISO 8601, formatted once per millisecond. */
function now(): string {
  const t = Date.now();
  if (t !== isoAt) {
    isoAt = t;
    iso = new Date(t).toISOString();
  }
  return iso;
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

/**
 * Reads a log level as the Rust server's `--log-level` (tracing's `LevelFilter`) does: a name in any
 * case, or a number from 0 (off) to 5 (trace); the empty string is `error`. `undefined` when neither.
 */
export function parseLogLevel(s: string): LogLevel | undefined {
  if (/^\+?\d+$/.test(s)) return LOG_LEVELS[Number(s)];
  if (s === '') return 'error';
  const lower = s.toLowerCase();
  return isLogLevel(lower) ? lower : undefined;
}
