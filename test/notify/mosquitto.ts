/**
 * A real Mosquitto broker for a test, on 127.0.0.1 and a free port, with a temp config: plain,
 * with username/password, or TLS with required client certificates. `restart()` stops it and
 * starts it again on the same port (retained messages persist). `publishes()` counts the PUBLISH
 * packets the broker received, read from its own log.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import type { Subprocess } from 'bun';
import { freePort } from '../support/ports.ts';
import { tempDir } from '../support/tmp.ts';
import type { TestCerts } from './certs.ts';

export interface BrokerOptions {
  /** Accounts; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** TLS listener that requires a client certificate signed by `certs.ca`. */
  tls?: TestCerts;
}

export interface TestBroker {
  url: string;
  port: number;
  dir: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** PUBLISH packets received from clients whose id starts with `clientPrefix` (default `otaflux-`). */
  publishes(topic?: string, clientPrefix?: string): number;
  log(): string;
}

export async function startBroker(o: BrokerOptions = {}): Promise<TestBroker> {
  const dir = tempDir('otaflux-mqtt-');
  const port = await freePort();
  const logFile = join(dir, 'mosquitto.log');
  const lines = [
    `listener ${port} 127.0.0.1`,
    `persistence true`,
    `persistence_location ${dir}/`,
    `log_dest file ${logFile}`,
    `log_type all`,
    `connection_messages true`,
  ];
  // As root, mosquitto would switch to the `mosquitto` user, which cannot read the temp files.
  if (process.getuid?.() === 0) lines.push('user root');
  if (o.users) {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, '');
    for (const [user, pass] of Object.entries(o.users)) {
      const r = Bun.spawnSync(['mosquitto_passwd', '-b', passwd, user, pass]);
      if (r.exitCode !== 0) throw new Error(`mosquitto_passwd: ${r.stderr.toString()}`);
    }
    lines.push(`password_file ${passwd}`, 'allow_anonymous false');
  } else {
    lines.push('allow_anonymous true');
  }
  if (o.tls) {
    lines.push(`cafile ${o.tls.ca}`, `certfile ${o.tls.serverCert}`, `keyfile ${o.tls.serverKey}`, 'require_certificate true', 'tls_version tlsv1.2');
  }
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, lines.join('\n') + '\n');

  let proc: Subprocess | undefined;
  const start = async () => {
    proc = Bun.spawn(['mosquitto', '-c', config], { stdout: 'ignore', stderr: 'pipe' });
    await waitForPort(port, proc);
  };
  const stop = async () => {
    if (!proc) return;
    proc.kill('SIGTERM');
    await proc.exited;
    proc = undefined;
  };
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  await start();
  return {
    url: `${o.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    port,
    dir,
    restart: async () => { await stop(); await start(); },
    stop,
    log,
    publishes(topic, clientPrefix = 'otaflux-') {
      return log().split('\n').filter((l) => {
        const m = /Received PUBLISH from (\S+) \(d\d, q\d, r\d, m\d+, '([^']*)'/.exec(l);
        return m && (m[1] ?? '').startsWith(clientPrefix) && (topic === undefined || m[2] === topic);
      }).length;
    },
  };
}

async function waitForPort(port: number, proc: Subprocess): Promise<void> {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    if (proc.exitCode !== null) {
      const err = await new Response(proc.stderr as ReadableStream).text();
      throw new Error(`mosquitto exited with ${proc.exitCode}: ${err}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await Bun.sleep(25);
  }
  throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within 5 s`);
}
