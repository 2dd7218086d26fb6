/**
 * deploy/helm/otaflux: rendered with helm-lite (Debian 12 has no `helm`, npm has no renderer) for
 * several value sets; every manifest must parse as YAML and carry what the chart promises: the Rust
 * chart's values (both its layouts), env vars the CLI knows and accepts, secrets only through
 * Secrets, probes on /health and /ready, a metrics Service, non-root and read-only containers, an
 * Ingress for devices only. Values that cannot work fail the render with one line saying why.
 */
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { tempDir } from '../support/tmp.ts';
import { renderChart, valuePaths } from './helm-lite.ts';
import { FLAGS, envName, fromEnv, parseArgs } from '../../src/cli/flags.ts';
import { resolveSettings } from '../../src/config/settings.ts';

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

/** Settings the pod would start with: its args and env (Secret references resolved), through the CLI. */
async function podSettings(ms: K8s[]) {
  const c = container(ms);
  const secrets = new Map(ms.filter((m) => m.kind === 'Secret').map((m) => [m.metadata.name, m.data ?? {}]));
  const vars: Record<string, string> = {};
  for (const e of c.env as any[]) {
    if (e.value !== undefined) vars[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef;
    const data = ref ? secrets.get(ref.name)?.[ref.key] : undefined;
    if (data) vars[e.name] = Buffer.from(data, 'base64').toString();
  }
  const { flags, positional } = parseArgs(c.args);
  expect(positional).toEqual(['serve']);
  return resolveSettings(fromEnv(vars, flags), tempDir('otaflux-pod-'));
}

const KNOWN_ENV = new Set([...FLAGS.map(envName).filter((x): x is string => x !== null)]);
const BASE = { otaflux: { registryUrl: 'registry.lan:5000', repositoryPrefix: 'fw', registryUsername: 'puller', registryPassword: 'registry-secret-1' } };

describe('helm chart', () => {
  test('values cover the Rust chart; the schema declares every value a template reads', () => {
    const values = Bun.YAML.parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, any>;
    for (const k of ['registryUrl', 'registryUsername', 'registryPassword', 'repositoryPrefix', 'logLevel', 'cosignPubKey', 'registryInsecure', 'adminToken', 'webhookSecret', 'registry', 'mqtt']) {
      expect(values.otaflux).toHaveProperty(k);
    }
    for (const k of ['url', 'username', 'password', 'topic', 'caCert', 'clientCert', 'clientKey']) expect(values.mqtt).toHaveProperty(k);
    for (const k of ['entries', 'maxBytes', 'refreshInterval', 'persistence']) expect(values.cache).toHaveProperty(k);
    for (const k of ['enabled', 'minReplicas', 'maxReplicas', 'targetCPUUtilizationPercentage']) expect(values.autoscaling).toHaveProperty(k);
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
    const declared = (p: string) => p.split('.').reduce<any>((node, k) => node?.properties?.[k], schema) !== undefined;
    expect(valuePaths(CHART).filter((p) => !declared(p))).toEqual([]);
    for (const p of ['otaflux.registry.url', 'otaflux.registry.username', 'otaflux.registry.password', 'otaflux.registry.insecure', 'otaflux.mqtt.url', 'otaflux.mqtt.topic', 'otaflux.mqtt.clientKey']) expect(declared(p)).toBe(true);
  });

  test('a key the chart does not know fails the render instead of being ignored', () => {
    expect(() => manifests({ otaflux: { ...BASE.otaflux, registryURL: 'typo:5000' } })).toThrow('- otaflux: Additional property registryURL is not allowed');
    expect(() => manifests({ ...BASE, otaflux: { ...BASE.otaflux, registry: { url: 'r:5000', tls: true } } })).toThrow('- otaflux.registry: Additional property tls is not allowed');
    expect(() => manifests({ ...BASE, cache: { entries: 'many' } })).toThrow('- cache.entries: Invalid type. Expected: integer, given: string');
    expect(() => manifests({ ...BASE, otaflux: { ...BASE.otaflux, listenAddr: '0.0.0.0:8081' } })).toThrow('otaflux.listenAddr is not supported: the chart sets the listeners (device port 8080, metrics.port 9090); remove it');
  });

  test('no registry and no config file fails the install, not the pod; an empty prefix is passed as a flag', async () => {
    expect(() => manifests({})).toThrow('otaflux.registryUrl is required: the registry to serve firmware from');
    expect(() => manifests({ otaflux: { configFile: 'export default {}\n' } })).not.toThrow();
    const ms = manifests({ otaflux: { registryUrl: 'registry.lan:5000' } });
    expect(container(ms).args).toEqual(['serve', '--repository-prefix=']);
    expect(env(ms).has('REPOSITORY_PREFIX')).toBe(false);
    // What the pod would run with: the CLI accepts it (no crash loop on "needs --repository-prefix").
    const settings = await podSettings(ms);
    expect(settings.repositoryPrefix).toBe('');
    expect(settings.composer.all().map((c) => c.source.id)).toEqual(['source.oci']);
  });

  test("the later Rust chart's otaflux.registry.* and otaflux.mqtt.* are honoured", async () => {
    const ms = manifests({
      otaflux: {
        repositoryPrefix: 'my-project/',
        registry: { url: 'my-registry.example.com:443', username: 'robot', password: 'rust-layout-secret', insecure: true },
        mqtt: { url: 'mqtt://broker:1883?client_id=otaflux', username: 'notifier', password: 'mqtt-rust-secret', topic: 'fw/updates', caCert: 'CA PEM', clientCert: 'CERT PEM', clientKey: 'KEY PEM' },
      },
    });
    const e = env(ms);
    expect(e.get('REGISTRY_URL').value).toBe('my-registry.example.com:443');
    expect(e.get('REGISTRY_USERNAME').value).toBe('robot');
    expect(e.get('REGISTRY_INSECURE').value).toBe('true');
    expect(e.get('MQTT_URL').value).toBe('mqtt://broker:1883?client_id=otaflux');
    expect(e.get('MQTT_USERNAME').value).toBe('notifier');
    expect(e.get('MQTT_TOPIC').value).toBe('fw/updates');
    expect(e.get('MQTT_CA_CERT_PATH').value).toBe('/etc/otaflux/mqtt/ca.crt');
    const secret = one(ms, 'Secret', 'ota-otaflux').data ?? {};
    expect(Buffer.from(secret['registry-password'] ?? '', 'base64').toString()).toBe('rust-layout-secret');
    expect(Buffer.from(secret['mqtt-password'] ?? '', 'base64').toString()).toBe('mqtt-rust-secret');
    const tls = one(ms, 'Secret', 'ota-otaflux-mqtt-tls').data ?? {};
    expect(Object.fromEntries(Object.entries(tls).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))).toEqual({ 'ca.crt': 'CA PEM', 'tls.crt': 'CERT PEM', 'tls.key': 'KEY PEM' });
    const settings = await podSettings(ms);
    expect(settings.mqtt).toMatchObject({ url: 'mqtt://broker:1883?client_id=otaflux', topic: 'fw/updates', username: 'notifier', password: 'mqtt-rust-secret' });
    expect(settings.repositoryPrefix).toBe('my-project');

    expect(() => manifests({ otaflux: { registryUrl: 'a:5000', registry: { url: 'b:5000' } } })).toThrow(
      'otaflux.registryUrl and otaflux.registry.url are two spellings of one setting, set to different values: keep one',
    );
    expect(() => manifests({ otaflux: { registryUrl: 'a:5000', registry: { url: 'a:5000' } } })).not.toThrow();
  });

  test('autoscaling: a HorizontalPodAutoscaler and no fixed replicas; a ReadWriteOnce cache is not shared', () => {
    const ms = manifests({ ...BASE, fleet: { databaseUrl: 'postgres://ota:pw@db:5432/fleet' }, autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70, targetMemoryUtilizationPercentage: 85, behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } } });
    const hpa = one(ms, 'HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({ scaleTargetRef: { kind: 'Deployment', name: 'ota-otaflux' }, minReplicas: 2, maxReplicas: 5 });
    expect(hpa.spec.metrics.map((m: any) => [m.resource.name, m.resource.target.averageUtilization])).toEqual([['cpu', 70], ['memory', 85]]);
    expect(hpa.spec.behavior).toEqual({ scaleDown: { stabilizationWindowSeconds: 300 } });
    expect(one(ms, 'Deployment').spec.replicas).toBeUndefined();
    expect(manifests(BASE).some((m) => m.kind === 'HorizontalPodAutoscaler')).toBe(false);
    expect(one(manifests(BASE), 'Deployment').spec.replicas).toBe(1);
    const rwo = 'cache.persistence with accessMode ReadWriteOnce holds one pod';
    const db = { databaseUrl: 'postgres://ota:pw@db:5432/fleet' };
    expect(() => manifests({ ...BASE, fleet: db, autoscaling: { enabled: true }, cache: { persistence: { enabled: true } } })).toThrow(rwo);
    expect(() => manifests({ ...BASE, fleet: db, replicaCount: 2, cache: { persistence: { enabled: true } } })).toThrow(rwo);
  });

  test('a NetworkPolicy, when asked for, lets in the published ports only: no plain port when devices need certificates', () => {
    const ports = (ms: K8s[]) => one(ms, 'NetworkPolicy').spec.ingress.map((r: any) => r.ports.map((p: any) => p.port).join('+'));
    expect(ports(manifests({ ...BASE, networkPolicy: { enabled: true } }))).toEqual(['http', 'metrics']);
    expect(ports(manifests({ ...BASE, networkPolicy: { enabled: true }, tls: { enabled: true, secretName: 's' } }))).toEqual(['http+https', 'metrics']);
    const mtls = manifests({ ...BASE, networkPolicy: { enabled: true, metricsFrom: [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }] }, tls: { enabled: true, secretName: 's', clientCa: true } });
    expect(ports(mtls)).toEqual(['https', 'metrics']);
    expect(one(mtls, 'NetworkPolicy').spec.ingress[1].from).toEqual([{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }]);
    expect(one(mtls, 'NetworkPolicy').spec.podSelector.matchLabels).toEqual(one(mtls, 'Deployment').spec.selector.matchLabels);
  });

  test('the Ingress routes device paths only, unless the operator API or the docs are asked for', () => {
    const paths = (ms: K8s[]) => one(ms, 'Ingress').spec.rules[0].http.paths.map((p: any) => `${p.path} ${p.pathType} ${p.backend.service.port.name}`);
    expect(paths(manifests({ ...BASE, ingress: { enabled: true } }))).toEqual(['/version Exact http', '/firmware Exact http']);
    expect(paths(manifests({ otaflux: { ...BASE.otaflux, webhookSecret: 'hook' }, ingress: { enabled: true, exposeOperatorApi: true, exposeDocs: true } }))).toEqual([
      '/version Exact http', '/firmware Exact http', '/webhooks/harbor Exact http', '/api Prefix http', '/docs Prefix http',
    ]);
    // What the Ingress sends to the device port is served there: the operator routes stay on it.
    expect(env(manifests({ ...BASE, ingress: { enabled: true, exposeOperatorApi: true } })).get('ADMIN_ON_DEVICE_PORT')?.value).toBe('true');
    expect(env(manifests({ ...BASE, ingress: { enabled: true, exposeDocs: true } })).get('ADMIN_ON_DEVICE_PORT')?.value).toBe('true');
    expect(env(manifests({ ...BASE, ingress: { enabled: true } })).has('ADMIN_ON_DEVICE_PORT')).toBe(false);
    const rustHosts = { enabled: true, hosts: [{ host: 'chart-example.local', paths: [{ path: '/', pathType: 'ImplementationSpecific' }] }] };
    expect(() => manifests({ ...BASE, ingress: rustHosts })).toThrow('ingress path / would expose the operator API (/api)');
    expect(() => manifests({ ...BASE, ingress: { enabled: true, paths: [{ path: '/docs', pathType: 'Prefix' }] } })).toThrow('ingress path /docs would expose the API docs (/docs)');
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
    // Devices must present a certificate: the plain port is not published (probes use it in the pod).
    expect(one(ms, 'Service', 'ota-otaflux').spec.ports.map((p: any) => p.name)).toEqual(['https']);
    expect(one(ms, 'Ingress').spec.rules[0].http.paths.map((p: any) => p.backend.service.port.name)).toEqual(['https', 'https', 'https']);
    expect(container(ms).readinessProbe.httpGet.port).toBe('http');
    expect(ms.some((m) => m.kind === 'NetworkPolicy')).toBe(false);
    expect(renderChart(CHART, { ...BASE, tls: { enabled: true, secretName: 's', clientCa: true } })['NOTES.txt']).toContain('https://ota-otaflux.iot.svc:443/version?device=<id>  (with a client certificate)');
    expect(renderChart(CHART, BASE)['NOTES.txt']).toContain('http://ota-otaflux.iot.svc:80/version?device=<id>');
    const tlsOnly = manifests({ ...BASE, tls: { enabled: true, secretName: 'otaflux-tls' } });
    expect(one(tlsOnly, 'Service', 'ota-otaflux').spec.ports.map((p: any) => p.name)).toEqual(['http', 'https']);
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

  describe('replicas', () => {
    const DB = 'postgres://ota:db-secret-1@db.iot.svc:5432/fleet';
    const REPLICAS = { ...BASE, replicaCount: 3, fleet: { databaseUrl: DB } };

    test('several pods need the shared PostgreSQL store: the install fails without it, one line saying what to set', () => {
      const msg = 'more than one pod (replicaCount above 1 or autoscaling) needs the shared state store: set fleet.databaseUrl (postgres://…) or fleet.existingSecret';
      expect(() => manifests({ ...BASE, replicaCount: 2 })).toThrow(msg);
      expect(() => manifests({ ...BASE, autoscaling: { enabled: true } })).toThrow(msg);
      expect(() => manifests({ ...BASE, replicaCount: 2, fleet: { existingSecret: 'fleet-db' } })).not.toThrow();
      expect(() => manifests({ ...BASE, fleet: { databaseUrl: 'mysql://db/fleet' } })).toThrow("- fleet.databaseUrl: Does not match pattern '^$|^(postgres|postgresql)://'");
      expect(() => manifests({ ...REPLICAS, otaflux: { ...BASE.otaflux, existingSecret: 'mine' } })).toThrow('fleet.databaseUrl goes into the chart\'s Secret, which otaflux.existingSecret turns off');
      // One pod keeps SQLite in its cache: no DATABASE_URL at all.
      expect(env(manifests(BASE)).has('DATABASE_URL')).toBe(false);
    });

    test('the database URL reaches the pod through a Secret only: the chart\'s, or one named in fleet.existingSecret', async () => {
      const ms = manifests(REPLICAS);
      expect(env(ms).get('DATABASE_URL').valueFrom.secretKeyRef).toEqual({ name: 'ota-otaflux', key: 'database-url' });
      expect(Buffer.from(one(ms, 'Secret').data?.['database-url'] ?? '', 'base64').toString()).toBe(DB);
      expect(JSON.stringify(one(ms, 'Deployment'))).not.toContain('db-secret-1');
      expect((await podSettings(ms)).fleet?.databaseUrl).toBe(DB);

      const own = manifests({ ...BASE, replicaCount: 2, fleet: { existingSecret: 'fleet-db', existingSecretKey: 'url' } });
      expect(env(own).get('DATABASE_URL').valueFrom.secretKeyRef).toEqual({ name: 'fleet-db', key: 'url' });
      expect(Object.keys(one(own, 'Secret').data ?? {})).not.toContain('database-url');
      // Both Secrets of the user's: the chart makes none.
      const both = manifests({ ...BASE, replicaCount: 2, otaflux: { ...BASE.otaflux, existingSecret: 'mine' }, fleet: { existingSecret: 'fleet-db' } });
      expect(both.some((m) => m.kind === 'Secret')).toBe(false);
      expect(env(both).get('DATABASE_URL').valueFrom.secretKeyRef).toEqual({ name: 'fleet-db', key: 'database-url' });
    });

    test('a PodDisruptionBudget for several pods (never for one), and pods spread over nodes', () => {
      const ms = manifests(REPLICAS);
      const pdb = one(ms, 'PodDisruptionBudget');
      expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: one(ms, 'Deployment').spec.selector.matchLabels } });
      expect(one(manifests({ ...REPLICAS, podDisruptionBudget: { minAvailable: 2 } }), 'PodDisruptionBudget').spec.minAvailable).toBe(2);
      expect(one(manifests({ ...REPLICAS, replicaCount: 1, autoscaling: { enabled: true, minReplicas: 2 } }), 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
      expect(manifests(BASE).some((m) => m.kind === 'PodDisruptionBudget')).toBe(false);
      expect(manifests({ ...REPLICAS, podDisruptionBudget: { enabled: false } }).some((m) => m.kind === 'PodDisruptionBudget')).toBe(false);

      const spec = (m: K8s[]) => one(m, 'Deployment').spec.template.spec;
      const selector = one(ms, 'Deployment').spec.selector.matchLabels;
      expect(spec(ms).affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } },
      ]);
      const hard = spec(manifests({ ...REPLICAS, podAntiAffinity: 'hard', podAntiAffinityTopologyKey: 'topology.kubernetes.io/zone' })).affinity.podAntiAffinity;
      expect(hard).toEqual({ requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: selector } }] });
      expect(spec(manifests({ ...REPLICAS, podAntiAffinity: 'none' })).affinity).toBeUndefined();
      const mine = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'arch', operator: 'In', values: ['arm64'] }] }] } } };
      expect(spec(manifests({ ...REPLICAS, affinity: mine })).affinity).toEqual(mine);
      expect(() => manifests({ ...REPLICAS, podAntiAffinity: 'always' })).toThrow('- podAntiAffinity: podAntiAffinity must be one of the following: "soft", "hard", "none"');
    });

    test('each pod its own cache: an emptyDir by default, or a volume per pod through a StatefulSet', () => {
      const volumes = (m: K8s[], kind = 'Deployment') => one(m, kind).spec.template.spec.volumes;
      const empty = manifests(REPLICAS);
      expect(volumes(empty).find((v: any) => v.name === 'cache')).toEqual({ name: 'cache', emptyDir: { sizeLimit: '4Gi' } });
      expect(one(empty, 'Deployment').spec.replicas).toBe(3);

      const perPod = manifests({ ...REPLICAS, cache: { persistence: { enabled: true, perPod: true, size: '8Gi', storageClass: 'fast' } } });
      expect(perPod.some((m) => m.kind === 'Deployment' || m.kind === 'PersistentVolumeClaim')).toBe(false);
      const sts = one(perPod, 'StatefulSet');
      expect(sts.spec).toMatchObject({ replicas: 3, serviceName: 'ota-otaflux', podManagementPolicy: 'Parallel' });
      expect(sts.spec.strategy).toBeUndefined();
      expect(sts.spec.volumeClaimTemplates).toEqual([{
        metadata: { name: 'cache', labels: sts.spec.selector.matchLabels },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'fast', resources: { requests: { storage: '8Gi' } } },
      }]);
      expect(volumes(perPod, 'StatefulSet').map((v: any) => v.name)).toEqual(['tmp']);
      expect(sts.spec.template.spec.containers[0].volumeMounts[0]).toEqual({ name: 'cache', mountPath: '/var/cache/otaflux' });
      const hpa = one(manifests({ ...REPLICAS, autoscaling: { enabled: true }, cache: { persistence: { enabled: true, perPod: true } } }), 'HorizontalPodAutoscaler');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'ota-otaflux' });
      expect(one(perPod, 'PodDisruptionBudget').spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
      expect(() => manifests({ ...REPLICAS, cache: { persistence: { enabled: true, perPod: true, existingClaim: 'c' } } })).toThrow('cache.persistence.perPod makes a volume per pod: remove cache.persistence.existingClaim');
    });

    test('a stopping pod keeps serving through the preStop sleep, then drains within the grace period; probes on /ready and /health', () => {
      const c = container(manifests(REPLICAS));
      expect(c.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
      expect(one(manifests(REPLICAS), 'Deployment').spec.template.spec.terminationGracePeriodSeconds).toBe(45);
      expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/ready', port: 'http' } });
      expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/health', port: 'http' } });
      expect(container(manifests({ ...REPLICAS, lifecycle: { preStopSleepSeconds: 0 } })).lifecycle).toBeUndefined();
      expect(container(manifests({ ...REPLICAS, lifecycle: { preStopSleepSeconds: 20 }, terminationGracePeriodSeconds: 30 })).lifecycle.preStop.sleep.seconds).toBe(20);
      expect(() => manifests({ ...REPLICAS, lifecycle: { preStopSleepSeconds: 30 }, terminationGracePeriodSeconds: 35 })).toThrow(
        'terminationGracePeriodSeconds 35 is too short: the preStop sleep (lifecycle.preStopSleepSeconds 30) and OtaFlux\'s drain of downloads in flight (lifecycle.drainTimeoutSeconds 10) must fit in it',
      );
      // The drain time reaches OtaFlux (DRAIN_TIMEOUT) and counts against the grace period.
      expect(c.env).toContainEqual({ name: 'DRAIN_TIMEOUT', value: '10' });
      // Workers per pod: one by default, the value passed through as WORKERS.
      expect(c.env).toContainEqual({ name: 'WORKERS', value: '1' });
      expect(container(manifests({ ...REPLICAS, workers: 'auto' })).env).toContainEqual({ name: 'WORKERS', value: 'auto' });
      expect(container(manifests({ ...REPLICAS, lifecycle: { drainTimeoutSeconds: 30 }, terminationGracePeriodSeconds: 35 })).env).toContainEqual({ name: 'DRAIN_TIMEOUT', value: '30' });
      expect(() => manifests({ ...REPLICAS, lifecycle: { drainTimeoutSeconds: 41 } })).toThrow('lifecycle.drainTimeoutSeconds 41) must fit in it');
      expect(() => manifests({ ...REPLICAS, lifecycle: { preStopSleepSeconds: -1 } })).toThrow('- lifecycle.preStopSleepSeconds: Must be greater than or equal to 0');
    });
  });
});
