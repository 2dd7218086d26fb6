/**
 * `otaflux device …`: instances of a stream on a running OtaFlux, over its operator API.
 *
 *   otaflux device show <stream> [--instance ID]      what decides for that instance, its check-in and outcomes
 *   otaflux device pin <stream> <version> [instances=a,b] [id=…] [reason=…]
 *   otaflux device unpin <pin-id>
 *   otaflux device pins
 *   otaflux device yank <stream> <version> [reason=…]
 *   otaflux device channels <instance> beta[,alpha]    ('' to unsubscribe)
 */
import { UsageError, type FlagValues } from '../flags.ts';
import { keyValues, list, operatorClient } from './operator-client.ts';
import { explanationLines, type FleetExplanation } from './fleet-explanation.ts';

export const deviceCommand = {
  name: 'device',
  usage: 'device <action> …',
  help: 'Instances on a running server: show (why), pin, unpin, pins, yank, channels (--server, --admin-token)',
  run: device,
};

async function device(flags: FlagValues, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const api = operatorClient(flags);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  switch (sub) {
    case 'show': {
      const [stream] = rest;
      if (!stream || rest.length > 1) throw new UsageError('device show: name one stream, e.g. otaflux device show esp32-kitchen --instance mac:aa:bb:cc:dd:ee:ff');
      const instance = typeof flags.instance === 'string' ? flags.instance : undefined;
      const r = (await api.call('GET', `/devices/${encodeURIComponent(stream)}${instance ? `?instance=${encodeURIComponent(instance)}` : ''}`)) as { fleet?: FleetExplanation | null };
      out(`stream ${stream}`);
      for (const line of explanationLines(r.fleet)) out(`  ${line}`);
      return 0;
    }
    case 'pin': {
      const [stream, version, ...more] = rest;
      if (!stream || !version) throw new UsageError('device pin: give a stream and a version, e.g. otaflux device pin esp32-kitchen 1.1.0 instances=mac:aa:bb:cc:dd:ee:ff');
      const kv = keyValues(more, ['instances', 'id', 'reason'], 'device pin');
      const p = (await api.call('POST', '/pins', { stream, version, ...(kv.instances ? { instances: list(kv.instances) } : {}), ...(kv.id ? { id: kv.id } : {}), ...(kv.reason ? { reason: kv.reason } : {}) })) as { id: string; instances: string[] };
      out(`pin ${p.id}: ${p.instances.length ? `${p.instances.length} instance(s) of ` : 'every instance of '}${stream} held on ${version}`);
      return 0;
    }
    case 'unpin': {
      const [id] = rest;
      if (!id) throw new UsageError('device unpin: name the pin, e.g. otaflux device unpin p-1a2b3c4d');
      await api.call('DELETE', `/pins/${encodeURIComponent(id)}`);
      out(`pin ${id} removed`);
      return 0;
    }
    case 'pins': {
      const pins = (await api.call('GET', '/pins')) as { id: string; stream: string; instances: string[]; version: string; reason?: string }[];
      if (pins.length === 0) out('no pins');
      for (const p of pins) out(`${p.id}  ${p.stream}  ${p.version}  ${p.instances.length ? p.instances.join(',') : '(whole stream)'}${p.reason ? `  — ${p.reason}` : ''}`);
      return 0;
    }
    case 'yank': {
      const [stream, version, ...more] = rest;
      if (!stream || !version) throw new UsageError('device yank: give a stream and a version, e.g. otaflux device yank esp32-kitchen 1.2.0 reason="boot loop"');
      const kv = keyValues(more, ['reason'], 'device yank');
      await api.call('POST', `/releases/${encodeURIComponent(stream)}/${encodeURIComponent(version)}/yank`, kv.reason ? { reason: kv.reason } : {});
      out(`${stream} ${version} yanked: never offered again`);
      return 0;
    }
    case 'channels': {
      const [instance, channels] = rest;
      if (!instance || channels === undefined || rest.length > 2) throw new UsageError("device channels: give an instance and channels, e.g. otaflux device channels mac:aa:bb:cc:dd:ee:ff beta ('' for none)");
      await api.call('POST', `/instances/${encodeURIComponent(instance)}/channels`, { channels: list(channels) ?? [] });
      out(`${instance}: channels ${channels || '(stable only)'}`);
      return 0;
    }
    default:
      throw new UsageError(`device: expected show, pin, unpin, pins, yank or channels${sub ? `, got '${sub}'` : ''}`);
  }
}
