/**
 * The `otaflux` command: serve (default), check-config, and operator commands.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
 */
import pkg from '../../package.json' with { type: 'json' };
import { FLAGS, fromEnv, parseArgs, UsageError, type FlagValues } from './flags.ts';
import { helpText, type CommandSpec } from './help.ts';
import { resolveSettings } from '../config/settings.ts';
import { createLogger } from '../log.ts';
import { startServer } from '../server.ts';
import { fail } from './errors.ts';
import { checkConfigCommand } from './commands/check-config.ts';
import { inspectCommand } from './commands/inspect.ts';
import { prefetchCommand } from './commands/prefetch.ts';
import { hashTokenCommand } from './commands/hash-token.ts';
import { fromCredentials } from './credentials.ts';
import { rolloutCommand } from './commands/rollout.ts';
import { deviceCommand } from './commands/device.ts';
import { pluginInitCommand } from './commands/plugin-init.ts';
import { pushCommand } from './commands/push.ts';
import { signCommand } from './commands/sign.ts';
import { runPrimary } from '../cluster/primary.ts';
import { WORKER_FLAGS_ENV, WORKER_INDEX_ENV } from '../cluster/messages.ts';

export const VERSION: string = pkg.version;

export interface Command extends CommandSpec {
  run(flags: FlagValues, args: string[]): Promise<number>;
  /** A command with flags of its own gets the words after its name, and the environment. */
  runRaw?(argv: string[], env: Record<string, string | undefined>): Promise<number>;
}

const COMMANDS: Command[] = [
  { name: 'serve', usage: '[serve] [flags]', help: 'Start the server (the default command)', run: serve },
  checkConfigCommand,
  inspectCommand,
  prefetchCommand,
  hashTokenCommand,
  rolloutCommand,
  deviceCommand,
  pluginInitCommand,
  pushCommand,
  signCommand,
];

/** Registers an extra command (operator tools add theirs here). */
export function addCommand(c: Command): void {
  COMMANDS.push(c);
}

export async function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  try {
    const own = COMMANDS.find((c) => c.runRaw && c.name === argv[0]);
    if (own?.runRaw) return await own.runRaw(argv.slice(1), env);
    const { flags: given, positional } = parseArgs(argv);
    if (given.help || given.h) return print(helpText(VERSION, COMMANDS));
    if (given.version || given.V) return print(`otaflux ${VERSION} (bun ${Bun.version}, ${process.platform}-${process.arch})\n`);
    // `otaflux otaflux --registry-url …` (a container whose entrypoint is already otaflux, run as the
    // Rust server's README shows it) is `otaflux --registry-url …`.
    const words = /(^|\/)otaflux$/.test(positional[0] ?? '') ? positional.slice(1) : positional;
    const [name = 'serve', ...args] = words;
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command '${name}'; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see otaflux --help)`);
    return await command.run(fromCredentials(env, fromEnv(env, given)), args);
  } catch (e) {
    return fail(e);
  }
}

async function serve(given: FlagValues): Promise<number> {
  // A worker of `--workers` runs with the flags its primary was given.
  const worker = process.env[WORKER_INDEX_ENV] !== undefined && process.env[WORKER_FLAGS_ENV] !== undefined;
  const flags = worker ? (JSON.parse(process.env[WORKER_FLAGS_ENV] as string) as FlagValues) : given;
  const settings = await resolveSettings(flags);
  const base = createLogger({ level: settings.logLevel, ...(settings.logFormat ? { format: settings.logFormat } : {}) });
  const logger = worker ? base.child({ worker: Number(process.env[WORKER_INDEX_ENV]) }) : base;
  if (settings.workers > 1 && !worker) {
    logger.info('starting OtaFlux workers', { version: VERSION, workers: settings.workers, cache: settings.cache.dir });
    const postgres = /^postgres(ql)?:\/\//.test(settings.fleet?.databaseUrl ?? '');
    return runPrimary({ count: settings.workers, flags, designateLeader: !postgres, logger });
  }
  logger.info('starting OtaFlux', { version: VERSION, cache: settings.cache.dir });
  if (settings.configFile) logger.info('config file loaded', { path: settings.configFile });
  else logger.info('no config file: flags, env vars and defaults only');
  const server = await startServer(settings, logger);
  await new Promise<void>((resolve) => {
    // Graceful shutdown: listeners stop accepting, downloads in flight finish (bounded),
    // then exit 0. A second signal exits at once.
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn('second signal: exiting without waiting', { signal });
        process.exit(0);
      }
      stopping = true;
      logger.info('shutting down: draining downloads in flight', { signal });
      server.close().then(resolve, (e: unknown) => {
        logger.error('shutdown failed', { error: e instanceof Error ? e.message : String(e) });
        resolve();
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  logger.info('stopped');
  // Whatever still holds the event loop (a registry keep-alive socket) must not hold the exit.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

function print(s: string): number {
  process.stdout.write(s);
  return 0;
}

export { FLAGS };
