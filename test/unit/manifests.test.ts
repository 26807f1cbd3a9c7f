// No Docker engine or cluster runs here, so the packaging files are checked
// against the code instead: every manifest parses, every environment name is
// a variable the service reads, probes and ports point where the server
// listens, and the grace periods cover the shutdown the server performs.
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { configVariables, loadConfig } from '../../src/config.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFile(new URL(path, root), 'utf8');
const known = new Set(Object.keys(configVariables));
/** What the server allows after the grace period to close connections (src/server.ts). */
const CLOSE_MS = 5000;

// Manifests are free-form YAML: read them as plain data.
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, asserted field by field
type Doc = any;

async function documents(path: string): Promise<Doc[]> {
  const parsed = parseAllDocuments(await read(path));
  for (const doc of parsed) expect(doc.errors, path).toEqual([]);
  return parsed.map((doc) => doc.toJS() as Doc).filter((doc) => doc !== null);
}

/** Every manifest under docker/k8s (the base and its components), by kind; kustomizations by directory. */
async function k8s(): Promise<Map<string, Doc>> {
  const byKind = new Map<string, Doc>();
  for (const file of await yamlFiles('docker/k8s/')) {
    for (const doc of await documents(file)) if (doc.kind !== 'Kustomization' && doc.kind !== 'Component') byKind.set(doc.kind, doc);
  }
  const [base] = await documents('docker/k8s/kustomization.yaml');
  byKind.set('Kustomization', base);
  return byKind;
}

/** The YAML files under a directory, recursively, as paths from the repository root. */
async function yamlFiles(dir: string): Promise<string[]> {
  const paths = await readdir(new URL(dir, root), { recursive: true });
  return paths
    .filter((p) => p.endsWith('.yaml'))
    .map((p) => `${dir}${p}`)
    .sort();
}

/** Every pod spec: the Deployment's and the CronJob's. */
const podSpecs = (docs: Map<string, Doc>): [string, Doc][] => [
  ['Deployment', docs.get('Deployment').spec.template.spec],
  ['CronJob', docs.get('CronJob').spec.jobTemplate.spec.template.spec],
];

/** Do these labels match this selector's matchLabels? */
const selects = (matchLabels: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(matchLabels).every(([k, v]) => labels[k] === v);

const envNames = (container: Doc): string[] => (container.env ?? []).map((e: Doc) => e.name as string);

describe('Kubernetes manifests (docker/k8s)', () => {
  it('applies the Deployment, Service, ConfigMap and PodDisruptionBudget in namespace globeco; the CronJob and ServiceMonitor are optional components', async () => {
    const docs = await k8s();
    expect([...docs.keys()].sort()).toEqual([
      'ConfigMap',
      'CronJob',
      'Deployment',
      'Kustomization',
      'PodDisruptionBudget',
      'Service',
      'ServiceMonitor',
    ]);
    const base = docs.get('Kustomization');
    expect(base).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: 'globeco' });
    const files = (await readdir(new URL('docker/k8s/', root))).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...base.resources].sort()).toEqual(files.sort());
    // Optional means off by default: `kubectl apply -k docker/k8s` starts no cycles.
    expect(base.components).toBeUndefined();
    expect(base.resources.some((r: string) => r.includes('cronjob'))).toBe(false);
    for (const doc of [docs.get('Deployment'), docs.get('Service'), docs.get('ConfigMap'), docs.get('PodDisruptionBudget')]) {
      // The kustomization sets the namespace; a manifest naming another would be moved silently.
      expect(doc.metadata.namespace, doc.kind).toBeUndefined();
    }

    const components = (await readdir(new URL('docker/k8s/components/', root))).sort();
    expect(components).toEqual(['cronjob', 'servicemonitor']);
    const kinds: Record<string, string> = { cronjob: 'CronJob', servicemonitor: 'ServiceMonitor' };
    for (const component of components) {
      const dir = `docker/k8s/components/${component}/`;
      const [kustomization] = await documents(`${dir}kustomization.yaml`);
      expect(kustomization, component).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component' });
      const own = (await readdir(new URL(dir, root))).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
      expect([...kustomization.resources].sort(), component).toEqual(own.sort());
      const resources = (await Promise.all(own.map((f) => documents(`${dir}${f}`)))).flat();
      expect(
        resources.map((r) => r.kind),
        component,
      ).toEqual([kinds[component]]);
      expect(resources[0].metadata.namespace, component).toBeUndefined();
    }
  });

  it('runs every pod under the restricted Pod Security Standard', async () => {
    const docs = await k8s();
    for (const [kind, pod] of podSpecs(docs)) {
      expect(pod.securityContext, kind).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser, kind).not.toBe(0);
      expect(pod.hostNetwork ?? false, kind).toBe(false);
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const where = `${kind} container ${container.name}`;
        expect(container.securityContext, where).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect(container.securityContext.privileged ?? false, where).toBe(false);
        expect(container.securityContext.capabilities.add, where).toBeUndefined();
        expect(container.securityContext.runAsUser ?? 1000, where).not.toBe(0);
      }
    }
  });

  it('names the Deployment and Service as the Python service did, and selects the same pods everywhere', async () => {
    const docs = await k8s();
    const deployment = docs.get('Deployment');
    const service = docs.get('Service');
    // The Python service's names: its callers reach globeco-order-generation-service.
    expect(deployment.metadata.name).toBe('globeco-order-generation-service');
    expect(service.metadata.name).toBe(deployment.metadata.name);
    const selector = deployment.spec.selector.matchLabels;
    expect(selector).toEqual({ app: 'globeco-order-generation-service' });
    expect(selects(selector, deployment.spec.template.metadata.labels)).toBe(true);
    expect(service.spec.selector).toEqual(selector);
    expect(deployment.spec.template.spec.containers[0].name).toBe(deployment.metadata.name);

    // At least one replica through a drain, and drains can proceed.
    const pdb = docs.get('PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.metadata.name).toBe(deployment.metadata.name);
    expect(pdb.spec.selector.matchLabels).toEqual(selector);
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);

    // A cycle's pod takes no traffic and does not count as a replica.
    const cyclePod = docs.get('CronJob').spec.jobTemplate.spec.template.metadata.labels;
    expect(selects(selector, cyclePod)).toBe(false);

    // The ServiceMonitor scrapes the Service's named port at /metrics.
    const monitor = docs.get('ServiceMonitor');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(selects(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    const ports = service.spec.ports.map((p: Doc) => p.name);
    for (const endpoint of monitor.spec.endpoints) {
      expect(ports).toContain(endpoint.port);
      expect(endpoint.path).toBe('/metrics');
    }
  });

  it('runs the image of the documented build, tagged with the package version, everywhere', async () => {
    const docs = await k8s();
    const version = JSON.parse(await read('package.json')).version as string;
    const { images } = docs.get('Kustomization');
    expect(images).toEqual([{ name: 'globeco-order-generation', newTag: version }]);
    for (const [kind, pod] of podSpecs(docs)) {
      for (const container of pod.containers) expect(container.image, kind).toBe(`globeco-order-generation:${version}`);
    }
    const build = `docker build -f docker/Dockerfile -t globeco-order-generation:${version} .`;
    expect(await read('docker/Dockerfile')).toContain(build);
    expect(await read('docs/operations.md')).toContain(build);
    expect(await read('docker/k8s/kustomization.yaml')).toContain(build);
  });

  it('configures only variables the service reads, with values it accepts', async () => {
    const docs = await k8s();
    const data: Record<string, string> = docs.get('ConfigMap').data;
    for (const name of Object.keys(data)) expect(known, `ConfigMap ${name}`).toContain(name);
    for (const value of Object.values(data)) expect(typeof value, 'ConfigMap values must be strings').toBe('string');
    // The ConfigMap plus a connection string is a configuration the service starts with.
    expect(() => loadConfig({ ...data, MONGODB_URI: 'mongodb://db:27017/?replicaSet=rs0' })).not.toThrow();
    // No forwarded address is believed unless an operator says which proxy to trust.
    expect(loadConfig({ ...data, MONGODB_URI: 'mongodb://db:27017/?replicaSet=rs0' }).trustProxy).toBe(false);
    for (const kind of ['Deployment', 'CronJob']) {
      const spec = kind === 'Deployment' ? docs.get(kind).spec.template.spec : docs.get(kind).spec.jobTemplate.spec.template.spec;
      for (const container of spec.containers) {
        for (const name of envNames(container)) expect(known, `${kind} env ${name}`).toContain(name);
        expect(container.envFrom[0].configMapRef.name).toBe(docs.get('ConfigMap').metadata.name);
      }
    }
  });

  it('probes the health routes on the port the server listens on, and lets shutdown finish', async () => {
    const docs = await k8s();
    const port = Number(docs.get('ConfigMap').data.PORT ?? configVariables.PORT.default);
    const pod = docs.get('Deployment').spec.template.spec;
    const container = pod.containers[0];
    const http = container.ports.find((p: Doc) => p.name === 'http');
    expect(http.containerPort).toBe(port);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container.startupProbe.httpGet.path).toBe('/health/live');
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();

    const graceMs = Number(docs.get('ConfigMap').data.SHUTDOWN_GRACE_MS ?? configVariables.SHUTDOWN_GRACE_MS.default);
    const preStopSeconds = Number(container.lifecycle?.preStop?.exec?.command?.at(-1) ?? 0);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStopSeconds * 1000 + graceMs + CLOSE_MS);

    const service = docs.get('Service');
    expect(service.spec.ports[0]).toMatchObject({ port, targetPort: 'http' });
  });

  it('runs the CLI --once from the CronJob, with the bin the package declares', async () => {
    const docs = await k8s();
    const bin = JSON.parse(await read('package.json')).bin['order-generation'];
    const job = docs.get('CronJob').spec.jobTemplate.spec;
    expect(job.template.spec.restartPolicy).toBe('Never');
    expect(job.template.spec.containers[0].command).toEqual(['node', bin, '--once']);
    expect(docs.get('CronJob').spec.concurrencyPolicy).toBe('Forbid');
    expect(bin).toBe('dist/src/cli.js');
  });
});

describe('docker/compose.yaml and the Dockerfile', () => {
  it('wires the service to MongoDB and the simulator with variables it reads', async () => {
    const [compose] = await documents('docker/compose.yaml');
    const service = compose.services['order-generation'];
    for (const name of Object.keys(service.environment)) expect(known, `compose ${name}`).toContain(name);
    expect(service.environment.MONGODB_URI).toContain('replicaSet=rs0');
    expect(compose.services.mongo.image).toBe('mongo:8');
    expect(compose.services.simulator.build.target).toBe('simulator');
    for (const name of [
      'PORTFOLIO_ACCOUNTING_SERVICE_URL',
      'SECURITY_SERVICE_URL',
      'PRICING_SERVICE_URL',
      'PORTFOLIO_SERVICE_URL',
      'ORDER_SERVICE_URL',
    ]) {
      expect(service.environment[name], name).toMatch(/^http:\/\/simulator:\d+$/);
    }
    expect(service.ports).toContain('8088:8088');
  });

  it('starts the service only once MongoDB is a writable primary', async () => {
    const [compose] = await documents('docker/compose.yaml');
    const [kind, ...command] = compose.services.mongo.healthcheck.test;
    expect(kind).toBe('CMD');
    expect(command.slice(0, 3)).toEqual(['mongosh', '--quiet', '--eval']);
    const script: string = command[3];
    // mongosh exits 0 whatever its --eval evaluates to: the script must exit 1 itself.
    expect(script).toMatch(/quit\(db\.hello\(\)\.isWritablePrimary \? 0 : 1\)\s*$/);
    expect(script).toContain("rs.initiate({_id: 'rs0'");
    expect(compose.services.mongo.command).toEqual(expect.arrayContaining(['--replSet', 'rs0']));
    expect(compose.services['order-generation'].depends_on.mongo.condition).toBe('service_healthy');
  });

  it('builds a non-root image that checks its liveness and starts the compiled server', async () => {
    const dockerfile = await read('docker/Dockerfile');
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(final).toMatch(/^\nFROM node:\d+/);
    expect(final).toContain('USER node');
    expect(final).toContain('EXPOSE 8088');
    expect(final).toMatch(/HEALTHCHECK[\s\S]*\/health\/live/);
    expect(final).toContain('CMD ["node", "--import", "./dist/src/telemetry/preload.js", "dist/src/server.js"]');
    expect(dockerfile).toContain('npm prune --omit=dev');
    const build = JSON.parse(await read('tsconfig.build.json'));
    expect(build.compilerOptions?.outDir ?? JSON.parse(await read('tsconfig.json')).compilerOptions.outDir).toBe('dist');
  });
});

describe('licence', () => {
  it('ships the MIT licence and declares it in package.json', async () => {
    const licence = await read('LICENSE');
    expect(licence.split('\n')[0]).toBe('MIT License');
    expect(licence).toContain('Copyright (c) 2026 GlobeCo');
    expect(licence).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
    expect(JSON.parse(await read('package.json')).license).toBe('MIT');
    expect(JSON.parse(await read('package-lock.json')).packages[''].license).toBe('MIT');
  });
});
