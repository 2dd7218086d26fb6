/**
 * deploy/helm/otaflux: rendered with helm-lite (Debian 12 has no `helm`) for several value sets;
 * every manifest must parse as YAML and carry what the chart promises: the Rust chart's values,
 * env vars the CLI knows, secrets only through Secrets, probes on /health and /ready, a metrics
 * Service, non-root and read-only containers.
 */
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { renderChart, valuePaths } from './helm-lite.ts';
import { FLAGS, envName } from '../../src/cli/flags.ts';

const CHART = join(import.meta.dir, '../../deploy/helm/otaflux');
type K8s = { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };

function manifests(overrides: Record<string, unknown>): K8s[] {
  const out: K8s[] = [];
  for (const [file, text] of Object.entries(renderChart(CHART, overrides))) {
    if (!file.endsWith('.yaml')) continue;
    for (const doc of text.split(/^---$/m)) {
      if (!doc.trim()) continue;
      let parsed: unknown;
      try {
        parsed = Bun.YAML.parse(doc);
      } catch (e) {
        throw new Error(`${file} does not render to valid YAML: ${(e as Error).message}\n${doc}`);
      }
      if (parsed) out.push(parsed as K8s);
    }
  }
  return out;
}

const one = (ms: K8s[], kind: string, name?: string) => {
  const found = ms.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  expect(found.length).toBe(1);
  return found[0] as K8s;
};
const container = (ms: K8s[]) => one(ms, 'Deployment').spec.template.spec.containers[0];
const env = (ms: K8s[]) => new Map<string, any>(container(ms).env.map((e: any) => [e.name, e]));

const KNOWN_ENV = new Set([...FLAGS.map(envName).filter((x): x is string => x !== null)]);
const BASE = { otaflux: { registryUrl: 'registry.lan:5000', repositoryPrefix: 'fw', registryUsername: 'puller', registryPassword: 'registry-secret-1' } };

describe('helm chart', () => {
  test('values cover the Rust chart and every value a template reads exists', () => {
    const values = Bun.YAML.parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, any>;
    for (const k of ['registryUrl', 'registryUsername', 'registryPassword', 'repositoryPrefix', 'logLevel', 'cosignPubKey', 'registryInsecure', 'adminToken', 'webhookSecret']) {
      expect(values.otaflux).toHaveProperty(k);
    }
    for (const k of ['url', 'username', 'password', 'topic', 'caCert', 'clientCert', 'clientKey']) expect(values.mqtt).toHaveProperty(k);
    for (const k of ['entries', 'maxBytes', 'refreshInterval', 'persistence']) expect(values.cache).toHaveProperty(k);
    const missing = valuePaths(CHART).filter((p) => p.split('.').reduce<any>((v, k) => (v && typeof v === 'object' && k in v ? v[k] : undefined), values) === undefined);
    expect(missing).toEqual([]);
  });

  test('defaults: a non-root, read-only Deployment with probes, a device Service and a metrics Service', () => {
    const ms = manifests(BASE);
    const c = container(ms);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(one(ms, 'Deployment').spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(c.ports.map((p: any) => p.name)).toEqual(['http', 'metrics']);
    const metrics = one(ms, 'Service', 'ota-otaflux-metrics');
    expect(metrics.spec.ports).toEqual([{ port: 9090, targetPort: 'metrics', protocol: 'TCP', name: 'metrics' }]);
    expect(one(ms, 'Service', 'ota-otaflux').spec.ports[0]).toMatchObject({ port: 80, targetPort: 'http' });

    const e = env(ms);
    expect(e.get('REGISTRY_URL').value).toBe('registry.lan:5000');
    expect(e.get('REPOSITORY_PREFIX').value).toBe('fw');
    // Large numbers must not turn into 2.147483648e+09.
    expect(e.get('CACHE_MAX_BYTES').value).toBe('2147483648');
    expect(e.get('REGISTRY_PASSWORD').valueFrom.secretKeyRef).toMatchObject({ name: 'ota-otaflux', key: 'registry-password' });
    expect(Buffer.from(one(ms, 'Secret').data?.['registry-password'] ?? '', 'base64').toString()).toBe('registry-secret-1');
    expect(JSON.stringify(c)).not.toContain('registry-secret-1');
    expect(e.has('METRICS_DEVICE_LABELS')).toBe(false);
    const unknown = [...e.keys()].filter((n) => !KNOWN_ENV.has(n));
    expect(unknown).toEqual([]);
    expect(ms.some((m) => m.kind === 'PersistentVolumeClaim' || m.kind === 'ServiceMonitor' || m.kind === 'Ingress')).toBe(false);
  });

  test('everything on: TLS with client CA, MQTT with client certificate, cosign key, persistence, ServiceMonitor, ingress', () => {
    const ms = manifests({
      otaflux: { ...BASE.otaflux, cosignPubKey: '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n', adminToken: 'admin-token-0123456789', webhookSecret: 'hook-secret-1', configFile: 'export default {}\n' },
      mqtt: { enabled: true, url: 'mqtts://broker:8883', username: 'otaflux', password: 'mqtt-secret-1', caCert: 'CA PEM', clientCert: 'CERT PEM', clientKey: 'KEY PEM' },
      tls: { enabled: true, secretName: 'otaflux-tls', clientCa: true },
      cache: { persistence: { enabled: true, size: '10Gi' } },
      metrics: { serviceMonitor: { enabled: true }, deviceLabels: true },
      ingress: { enabled: true },
    });
    const e = env(ms);
    for (const [name, value] of Object.entries({
      MQTT_URL: 'mqtts://broker:8883', MQTT_USERNAME: 'otaflux', MQTT_CA_CERT_PATH: '/etc/otaflux/mqtt/ca.crt', MQTT_CLIENT_CERT_PATH: '/etc/otaflux/mqtt/tls.crt',
      MQTT_CLIENT_KEY_PATH: '/etc/otaflux/mqtt/tls.key', TLS_CERT: '/etc/otaflux/tls/tls.crt', TLS_CLIENT_CA: '/etc/otaflux/tls/ca.crt', COSIGN_PUB_KEY_PATH: '/etc/otaflux/files/cosign.pub',
      OTAFLUX_CONFIG: '/etc/otaflux/files/otaflux.config.ts', METRICS_DEVICE_LABELS: 'true',
    })) expect(e.get(name)?.value).toBe(value);
    const secretKeys = Object.keys(one(ms, 'Secret', 'ota-otaflux').data ?? {}).sort();
    expect(secretKeys).toEqual(['admin-token', 'mqtt-password', 'registry-password', 'webhook-secret']);
    const refs = [...e.values()].filter((x) => x.valueFrom).map((x) => `${x.name}=${x.valueFrom.secretKeyRef.name}/${x.valueFrom.secretKeyRef.key}`).sort();
    expect(refs).toEqual(['ADMIN_TOKEN=ota-otaflux/admin-token', 'MQTT_PASSWORD=ota-otaflux/mqtt-password', 'REGISTRY_PASSWORD=ota-otaflux/registry-password', 'WEBHOOK_SECRET=ota-otaflux/webhook-secret']);
    expect(Object.keys(one(ms, 'Secret', 'ota-otaflux-mqtt-tls').data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(one(ms, 'ConfigMap').data?.['cosign.pub']).toContain('BEGIN PUBLIC KEY');
    expect(one(ms, 'PersistentVolumeClaim').spec.resources.requests.storage).toBe('10Gi');
    expect(one(ms, 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
    expect(one(ms, 'ServiceMonitor').spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
    expect(one(ms, 'Service', 'ota-otaflux').spec.ports.map((p: any) => p.name)).toEqual(['http', 'https']);
    const mounts = container(ms).volumeMounts.map((m: any) => m.mountPath);
    expect(mounts).toEqual(['/var/cache/otaflux', '/tmp', '/etc/otaflux/files', '/etc/otaflux/tls', '/etc/otaflux/mqtt']);
    expect([...e.keys()].filter((n) => !KNOWN_ENV.has(n))).toEqual([]);
  });

  test('an existing Secret replaces the chart Secret; MQTT without a URL is refused', () => {
    const ms = manifests({ otaflux: { ...BASE.otaflux, existingSecret: 'my-secrets' } });
    expect(ms.some((m) => m.kind === 'Secret')).toBe(false);
    expect(env(ms).get('REGISTRY_PASSWORD').valueFrom.secretKeyRef.name).toBe('my-secrets');
    expect(() => manifests({ ...BASE, mqtt: { enabled: true } })).toThrow('mqtt.url is required');
  });
});
