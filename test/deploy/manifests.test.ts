/**
 * deploy/ is not run here (no Docker engine, no cluster), so this test reads
 * it: every YAML file parses, every setting given to Skjold is one lib/config.ts
 * reads, ports are the config defaults, probes hit /healthz and /readyz,
 * every reference (Secret, ConfigMap, port name, selector, volume) resolves,
 * images are pinned, containers have requests and limits, and secrets hold
 * placeholders only.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { CONFIG_KEYS, loadConfig } from '../../lib/config.ts';

const DEPLOY = join(import.meta.dirname, '../../deploy');
const DEFAULTS = loadConfig({});
const NAMESPACE = 'skjold';

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML, checked field by field
type Doc = any;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

function parse(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
  return docs.map((d) => {
    assert.deepEqual(
      d.errors.map((e) => e.message),
      [],
      `${relative(DEPLOY, file)} parses`,
    );
    return d.toJS({ maxAliasCount: 100 });
  });
}

function assertPinned(image: string, where: string): void {
  assert.match(image, /^[^:]+(:[\w][\w.-]*)$/, `${where}: image ${image} names a tag`);
  assert.ok(!image.endsWith(':latest'), `${where}: image ${image} is not :latest`);
}

test('every YAML file in deploy/ parses', () => {
  const files = yamlFiles(DEPLOY);
  assert.ok(files.length >= 10, 'compose, kustomization, k8s manifests, Grafana provisioning');
  for (const file of files) parse(file);
});

describe('deploy/compose.yaml', () => {
  const [compose] = parse(join(DEPLOY, 'compose.yaml'));
  const services: Record<string, Doc> = compose.services;
  const skjold = Object.entries(services).filter(([, s]) => String(s.image).startsWith('skjold:'));

  test('runs two or more Skjold instances behind a load balancer on the default ports', () => {
    assert.ok(skjold.length >= 2);
    const lb = readFileSync(join(DEPLOY, 'haproxy.cfg'), 'utf8');
    for (const [name] of skjold) {
      assert.match(lb, new RegExp(`server ${name} ${name}:${DEFAULTS.SKJOLD_MQTT_PORT} `));
      assert.match(lb, new RegExp(`server ${name} ${name}:${DEFAULTS.SKJOLD_API_PORT} `));
    }
    assert.deepEqual(services.loadbalancer.ports, [
      `${DEFAULTS.SKJOLD_MQTT_PORT}:${DEFAULTS.SKJOLD_MQTT_PORT}`,
      `${DEFAULTS.SKJOLD_API_PORT}:${DEFAULTS.SKJOLD_API_PORT}`,
    ]);
  });

  test('gives Skjold only real settings, each instance its own id and data volume, and probes /readyz', () => {
    const ids = new Set<string>();
    const volumes = new Set<string>();
    for (const [name, s] of skjold) {
      for (const key of Object.keys(s.environment)) assert.ok(CONFIG_KEYS.includes(key), `${name}: ${key}`);
      assert.equal(s.environment.SKJOLD_MQTT_PORT, String(DEFAULTS.SKJOLD_MQTT_PORT));
      assert.equal(s.environment.SKJOLD_API_PORT, String(DEFAULTS.SKJOLD_API_PORT));
      assert.ok(s.environment.DATABASE_URL && s.environment.SKJOLD_REDIS_URL && s.environment.SKJOLD_KEYS);
      ids.add(String(s.environment.SKJOLD_INSTANCE_ID));
      volumes.add(String(s.volumes[0]).split(':')[0] ?? '');
      assert.match(s.healthcheck.test.join(' '), /\/readyz/);
    }
    assert.equal(ids.size, skjold.length, 'instance ids are unique');
    assert.equal(volumes.size, skjold.length, 'each instance its own data volume');
  });

  test('references resolve, images are pinned, resources are bounded', () => {
    for (const [name, s] of Object.entries(services)) {
      assertPinned(s.image, name);
      const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
      for (const dep of deps) assert.ok(dep in services, `${name} depends on ${dep}`);
      for (const v of s.volumes ?? []) {
        const source = String(v).split(':')[0] ?? '';
        if (source.startsWith('.')) statSync(join(DEPLOY, source));
        else assert.ok(source in compose.volumes, `${name}: volume ${source} is declared`);
      }
      assert.ok(s.deploy?.resources?.limits?.memory, `${name}: memory limit`);
      assert.ok(s.deploy?.resources?.reservations?.memory, `${name}: memory reservation`);
    }
  });
});

describe('deploy/k8s with deploy/kustomization.yaml', () => {
  const [kustomization] = parse(join(DEPLOY, 'kustomization.yaml'));
  const files: string[] = kustomization.resources;
  const objects: Doc[] = files.flatMap((f: string) => parse(join(DEPLOY, f)));
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const generated: string[] = kustomization.configMapGenerator.map((g: Doc) => g.name);
  const configMaps = new Map<string, Doc>(ofKind('ConfigMap').map((c) => [c.metadata.name, c.data]));
  const secrets = new Map<string, Doc>(ofKind('Secret').map((s) => [s.metadata.name, s.stringData]));
  const workloads = objects.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind));
  const podSpecs = [
    ...workloads.map((w) => ({ name: w.metadata.name, pod: w.spec.template.spec })),
    ...ofKind('CronJob').map((j) => ({ name: j.metadata.name, pod: j.spec.jobTemplate.spec.template.spec })),
  ];

  test('the kustomization lists every manifest in deploy/k8s', () => {
    const onDisk = readdirSync(join(DEPLOY, 'k8s')).map((f) => `k8s/${f}`);
    assert.deepEqual([...files].sort(), onDisk.sort());
    for (const g of kustomization.configMapGenerator) for (const f of g.files) statSync(join(DEPLOY, f));
  });

  test('every object is namespaced in skjold', () => {
    for (const o of objects) {
      assert.ok(o.apiVersion && o.kind && o.metadata?.name, 'apiVersion, kind, name');
      if (o.kind !== 'Namespace')
        assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name}`);
    }
    assert.equal(kustomization.namespace, NAMESPACE);
  });

  test('secrets hold placeholders only', () => {
    for (const [name, data] of secrets) {
      for (const [key, value] of Object.entries(data)) assert.equal(value, 'REPLACE_ME', `${name}.${key}`);
    }
  });

  test('every container: pinned image, requests and limits, references that resolve', () => {
    for (const w of workloads) {
      const labels = w.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.equal(labels[k], v);
    }
    for (const { name, pod } of podSpecs) {
      const w = workloads.find((x) => x.metadata.name === name) ?? { spec: {} };
      const volumeNames = new Set([
        ...(pod.volumes ?? []).map((v: Doc) => v.name),
        ...(w.spec.volumeClaimTemplates ?? []).map((v: Doc) => v.metadata.name),
      ]);
      for (const v of pod.volumes ?? []) {
        if (v.configMap) assert.ok(configMaps.has(v.configMap.name) || generated.includes(v.configMap.name));
        if (v.secret) assert.ok(secrets.has(v.secret.secretName));
      }
      for (const c of pod.containers) {
        const where = `${name}/${c.name}`;
        assertPinned(c.image, where);
        for (const r of ['cpu', 'memory']) {
          assert.ok(c.resources?.requests?.[r], `${where}: ${r} request`);
          assert.ok(c.resources?.limits?.[r], `${where}: ${r} limit`);
        }
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref)
            assert.ok(ref.key in (secrets.get(ref.name) ?? {}), `${where}: secret ${ref.name}.${ref.key}`);
        }
        for (const m of c.volumeMounts ?? [])
          assert.ok(volumeNames.has(m.name), `${where}: volume ${m.name}`);
        const portNames = new Set((c.ports ?? []).map((p: Doc) => p.name));
        for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter(Boolean)) {
          const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
          if (typeof port === 'string') assert.ok(portNames.has(port), `${where}: probe port ${port}`);
        }
      }
    }
  });

  test('every Service selects pods and targets a port they declare', () => {
    for (const svc of ofKind('Service')) {
      const pods = workloads.filter((w) =>
        Object.entries(svc.spec.selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v),
      );
      assert.ok(pods.length > 0, `Service ${svc.metadata.name} selects a workload`);
      const declared = pods.flatMap((w) =>
        w.spec.template.spec.containers.flatMap((c: Doc) => (c.ports ?? []).map((p: Doc) => p.name)),
      );
      for (const p of svc.spec.ports)
        assert.ok(declared.includes(p.targetPort), `${svc.metadata.name}: ${p.name}`);
    }
  });

  test('the retention CronJob runs the skjold CLI against the API Service', () => {
    const [job] = ofKind('CronJob');
    const c = job.spec.jobTemplate.spec.template.spec.containers[0];
    assert.deepEqual(c.args, ['retention', 'run']);
    for (const e of c.env) assert.ok(CONFIG_KEYS.includes(e.name), e.name);
    const url = new URL(c.env.find((e: Doc) => e.name === 'SKJOLD_API_URL').value);
    const api = ofKind('Service').find((s) => s.metadata.name === url.hostname);
    assert.ok(api.spec.ports.some((p: Doc) => p.port === Number(url.port)));
    assert.equal(
      configMaps.get('skjold-config').SKJOLD_RETENTION_SCHEDULE,
      'off',
      'not in every replica too',
    );
  });

  describe('Skjold', () => {
    const sts = workloads.find((w) => w.metadata.name === 'skjold');
    const container = sts?.spec.template.spec.containers[0];

    test('a StatefulSet of 2+ replicas, each with its own data volume', () => {
      assert.equal(sts.kind, 'StatefulSet');
      assert.ok(sts.spec.replicas >= 2);
      const data = container.volumeMounts.find((m: Doc) => m.name === 'data');
      assert.ok(sts.spec.volumeClaimTemplates.some((v: Doc) => v.metadata.name === 'data'));
      const config = configMaps.get('skjold-config');
      assert.equal(data.mountPath, config.SKJOLD_DATA_DIR, 'the volume is the data dir');
    });

    test('only real settings, from the ConfigMap and Secrets, with the keys from a Secret', () => {
      const names = [
        ...Object.keys(configMaps.get('skjold-config')),
        ...container.env.map((e: Doc) => e.name),
      ];
      for (const name of names) assert.ok(CONFIG_KEYS.includes(name), `${name} is a Skjold setting`);
      for (const secret of ['DATABASE_URL', 'SKJOLD_REDIS_URL', 'SKJOLD_KEYS', 'SKJOLD_OPERATOR_TOKEN']) {
        const e = container.env.find((x: Doc) => x.name === secret);
        assert.ok(e?.valueFrom?.secretKeyRef, `${secret} comes from a Secret`);
      }
      assert.equal(container.envFrom[0].configMapRef.name, 'skjold-config');
    });

    test('ports are the config defaults; probes hit /healthz and /readyz; MQTT is behind a load balancer', () => {
      const config = configMaps.get('skjold-config');
      const port = (name: string) => container.ports.find((p: Doc) => p.name === name).containerPort;
      assert.equal(port('mqtt'), DEFAULTS.SKJOLD_MQTT_PORT);
      assert.equal(port('api'), DEFAULTS.SKJOLD_API_PORT);
      assert.equal(Number(config.SKJOLD_MQTT_PORT), DEFAULTS.SKJOLD_MQTT_PORT);
      assert.equal(Number(config.SKJOLD_API_PORT), DEFAULTS.SKJOLD_API_PORT);
      assert.equal(container.livenessProbe.httpGet.path, '/healthz');
      assert.equal(container.readinessProbe.httpGet.path, '/readyz');
      const lb = ofKind('Service').find((s) => s.spec.type === 'LoadBalancer');
      assert.deepEqual(
        lb.spec.ports.map((p: Doc) => [p.port, p.targetPort]),
        [[DEFAULTS.SKJOLD_MQTT_PORT, 'mqtt']],
      );
    });
  });
});
