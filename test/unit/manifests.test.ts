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
type Doc = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML, asserted field by field

async function documents(path: string): Promise<Doc[]> {
  const parsed = parseAllDocuments(await read(path));
  for (const doc of parsed) expect(doc.errors, path).toEqual([]);
  return parsed.map((doc) => doc.toJS() as Doc).filter((doc) => doc !== null);
}

async function k8s(): Promise<Map<string, Doc>> {
  const files = (await readdir(new URL('docker/k8s/', root))).filter((f) => f.endsWith('.yaml'));
  const byKind = new Map<string, Doc>();
  for (const file of files) for (const doc of await documents(`docker/k8s/${file}`)) byKind.set(doc.kind, doc);
  return byKind;
}

const envNames = (container: Doc): string[] => (container.env ?? []).map((e: Doc) => e.name as string);

describe('Kubernetes manifests (docker/k8s)', () => {
  it('has a Deployment, Service, ConfigMap and CronJob, all listed in the kustomization', async () => {
    const docs = await k8s();
    expect([...docs.keys()].sort()).toEqual(['ConfigMap', 'CronJob', 'Deployment', 'Kustomization', 'Service']);
    const files = (await readdir(new URL('docker/k8s/', root))).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...docs.get('Kustomization').resources].sort()).toEqual(files.sort());
  });

  it('configures only variables the service reads, with values it accepts', async () => {
    const docs = await k8s();
    const data: Record<string, string> = docs.get('ConfigMap').data;
    for (const name of Object.keys(data)) expect(known, `ConfigMap ${name}`).toContain(name);
    for (const value of Object.values(data)) expect(typeof value, 'ConfigMap values must be strings').toBe('string');
    // The ConfigMap plus a connection string is a configuration the service starts with.
    expect(() => loadConfig({ ...data, MONGODB_URI: 'mongodb://db:27017/?replicaSet=rs0' })).not.toThrow();
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
    expect(service.spec.selector).toEqual(docs.get('Deployment').spec.selector.matchLabels);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
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
    for (const name of ['PORTFOLIO_ACCOUNTING_SERVICE_URL', 'SECURITY_SERVICE_URL', 'PRICING_SERVICE_URL', 'PORTFOLIO_SERVICE_URL', 'ORDER_SERVICE_URL']) {
      expect(service.environment[name], name).toMatch(/^http:\/\/simulator:\d+$/);
    }
    expect(service.ports).toContain('8088:8088');
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
