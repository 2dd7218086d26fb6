/**
 * A real subscriber: `mosquitto_sub` (not the library OtaFlux publishes with), printing each
 * message's retain flag, QoS, topic and payload, one per line.
 */
import type { Subprocess } from 'bun';
import type { TestCerts } from './certs.ts';

export interface Received {
  retained: boolean;
  qos: number;
  topic: string;
  payload: string;
}

export interface SubscriberOptions {
  port: number;
  topic: string;
  user?: { name: string; password: string };
  tls?: TestCerts;
}

export class Subscriber {
  readonly messages: Received[] = [];
  private readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  private readonly done: Promise<void>;

  constructor(o: SubscriberOptions) {
    const args = ['mosquitto_sub', '-h', '127.0.0.1', '-p', String(o.port), '-t', o.topic, '-q', '1', '-F', '%r|%q|%t|%p', '-i', `test-sub-${crypto.randomUUID().slice(0, 8)}`];
    if (o.user) args.push('-u', o.user.name, '-P', o.user.password);
    if (o.tls) args.push('--cafile', o.tls.ca, '--cert', o.tls.clientCert, '--key', o.tls.clientKey);
    this.proc = Bun.spawn(args, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
    this.done = this.read();
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of this.proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [r, q, topic, ...rest] = line.split('|');
        this.messages.push({ retained: r === '1', qos: Number(q), topic: topic ?? '', payload: rest.join('|') });
      }
    }
  }

  /** Waits for a message that matches, checking every 20 ms; throws with what arrived after `timeoutMs`. */
  async waitFor(match: (m: Received) => boolean, timeoutMs = 8000): Promise<Received> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const found = this.messages.find(match);
      if (found) return found;
      if (this.proc.exitCode !== null) break;
      await Bun.sleep(20);
    }
    const err = this.proc.exitCode !== null ? ` (mosquitto_sub exited ${this.proc.exitCode}: ${await new Response(this.proc.stderr).text()})` : '';
    throw new Error(`no matching MQTT message within ${timeoutMs} ms${err}; got ${JSON.stringify(this.messages)}`);
  }

  async stop(): Promise<void> {
    this.proc.kill('SIGTERM');
    await this.proc.exited;
    await this.done.catch(() => {});
  }
}
