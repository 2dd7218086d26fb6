/**
 * The primary process of `--workers N`: starts N workers (the same binary, `serve`, with the flags it
 * was given; the first alone until its state store is open, then the others), restarts one that dies,
 * brokers their registry lookups (lookup-broker.ts), and on SIGTERM/SIGINT tells each to stop and
 * waits while they drain their downloads. It serves nothing itself and opens no store. Each worker
 * binds the device ports with SO_REUSEPORT, so the kernel spreads connections over them; the metrics
 * and operator listeners are bound by the first worker only.
 */
import type { Subprocess } from 'bun';
import type { Logger } from '../plugin.ts';
import type { FlagValues } from '../cli/flags.ts';
import { LookupBroker, type BrokerPeer } from './lookup-broker.ts';
import { WORKER_FLAGS_ENV, WORKER_INDEX_ENV, WORKER_LEADER_ENV, type PrimaryMessage, type WorkerMessage } from './messages.ts';

/** A worker that dies is started again after this delay, doubling up to RESTART_MAX_MS while it keeps dying young. */
const RESTART_MS = 500;
const RESTART_MAX_MS = 30_000;
/** The other workers start when the first has opened the state store, or after this long. */
const FIRST_WORKER_WAIT_MS = 30_000;
/** A worker that ran this long is healthy again: its next restart waits RESTART_MS. */
const HEALTHY_AFTER_MS = 60_000;

export interface PrimaryOptions {
  count: number;
  flags: FlagValues;
  /** Whether one worker leads the host (SQLite store: no advisory locks); with PostgreSQL the store elects. */
  designateLeader: boolean;
  logger: Logger;
}

interface Slot {
  index: number;
  proc?: Subprocess;
  peer: BrokerPeer;
  startedAt: number;
  delay: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** Runs until SIGTERM/SIGINT and every worker has stopped; resolves with the exit code. */
export async function runPrimary(o: PrimaryOptions): Promise<number> {
  const log = o.logger.child({ component: 'workers' });
  const slots: Slot[] = [];
  const broker = new LookupBroker(() => slots.filter((s) => s.proc).map((s) => s.peer));
  let stopping = false;
  let firstReady: () => void = () => {};
  const command = workerCommand();

  const start = (slot: Slot) => {
    slot.startedAt = Date.now();
    slot.proc = Bun.spawn(command, {
      env: {
        ...process.env,
        [WORKER_INDEX_ENV]: String(slot.index),
        [WORKER_FLAGS_ENV]: JSON.stringify(o.flags),
        ...(o.designateLeader && slot.index === 0 ? { [WORKER_LEADER_ENV]: '1' } : {}),
      },
      stdin: 'ignore',
      stdout: 'inherit',
      stderr: 'inherit',
      serialization: 'json',
      ipc: (m: WorkerMessage) => (m.t === 'ready' ? firstReady() : broker.receive(slot.peer, m)),
      onExit: (_p, code, signal) => {
        slot.proc = undefined;
        broker.gone(slot.peer);
        if (stopping) return;
        const lived = Date.now() - slot.startedAt;
        slot.delay = lived > HEALTHY_AFTER_MS ? RESTART_MS : Math.min(RESTART_MAX_MS, slot.delay * 2);
        log.error('worker died; starting it again', { worker: slot.index, code, signal, inMs: slot.delay });
        slot.timer = setTimeout(() => start(slot), slot.delay);
      },
    });
  };

  for (let index = 0; index < o.count; index++) {
    const slot: Slot = { index, peer: { send: () => {} }, startedAt: 0, delay: RESTART_MS / 2 };
    slot.peer = { send: (m: PrimaryMessage) => void slot.proc?.send(m) };
    slots.push(slot);
  }
  // The first worker opens the state store alone (a new SQLite file is created and migrated once);
  // the others start when it is open, or after FIRST_WORKER_WAIT_MS whatever happened.
  let othersStarted = false;
  const startOthers = () => {
    if (othersStarted || stopping) return;
    othersStarted = true;
    clearTimeout(waitFirst);
    for (const slot of slots.slice(1)) start(slot);
  };
  firstReady = startOthers;
  start(slots[0] as Slot);
  const waitFirst = setTimeout(startOthers, FIRST_WORKER_WAIT_MS);
  log.info('workers starting', { workers: o.count, pid: process.pid });

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn('second signal: stopping workers without waiting', { signal });
        for (const s of slots) s.proc?.kill('SIGKILL');
        return;
      }
      stopping = true;
      log.info('stopping workers: each drains its downloads in flight', { signal });
      for (const s of slots) {
        clearTimeout(s.timer);
        s.proc?.kill('SIGTERM');
      }
      void Promise.all(slots.map((s) => s.proc?.exited)).then(() => resolve());
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  log.info('workers stopped', { registryLookups: broker.lookups });
  return 0;
}

/** The command that starts this same program as `serve`: the compiled binary alone, or `bun <entry script>`. */
function workerCommand(): string[] {
  const script = process.argv[1];
  const compiled = !script || script.startsWith('/$bunfs/') || script.startsWith('B:/~BUN/') || script === process.execPath;
  return compiled ? [process.execPath, 'serve'] : [process.execPath, script, 'serve'];
}
