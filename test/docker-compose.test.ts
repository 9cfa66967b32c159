import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '..');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: unknown };
  volumes?: string[];
  ports?: string[];
}

// The workers share their settings through a `<<: *ebb-worker` merge key, as docker compose reads it.
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const workerNames = Object.keys(services).filter((name) => name.startsWith('ebb-worker'));
// Services that run once and exit (schema and namespace setup) need no healthcheck.
const oneShot = (name: string) =>
  Object.values(services).some((service) => service.depends_on?.[name]?.condition === 'service_completed_successfully');

test('docker-compose.yml defines Temporal on PostgreSQL, its UI, the state store and two workers', () => {
  expect(Object.keys(services)).toEqual(
    expect.arrayContaining(['postgresql', 'temporal', 'temporal-ui', 'ebb-state-db']),
  );
  expect(workerNames).toEqual(['ebb-worker-engine', 'ebb-worker-deliveries']);
  expect(services.temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
  expect(services['temporal-ui']?.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
});

test('every image has a pinned tag', () => {
  const images = Object.entries(services).flatMap(([name, service]) => (service.image ? [[name, service.image]] : []));
  expect(images.length).toBeGreaterThanOrEqual(5);
  for (const [name, image] of images) {
    const tag = image?.split(':')[1];
    // Prometheus tags its releases with a leading v (v2.55.1).
    expect({ name, tag: tag && /^v?\d+(\.\d+)+/.test(tag) && tag !== 'latest' ? 'pinned' : tag }).toEqual({
      name,
      tag: 'pinned',
    });
  }
});

test('every long-running service has a healthcheck', () => {
  const longRunning = Object.keys(services).filter((name) => !oneShot(name));
  expect(longRunning).toEqual(
    expect.arrayContaining([
      'postgresql',
      'temporal',
      'temporal-ui',
      'ebb-state-db',
      'prometheus',
      'grafana',
      ...workerNames,
    ]),
  );
  for (const name of longRunning)
    expect({ name, healthcheck: Boolean(services[name]?.healthcheck?.test) }).toEqual({ name, healthcheck: true });
  expect(JSON.stringify(services.postgresql?.healthcheck?.test)).toContain('pg_isready');
});

test.each(['ebb-worker-engine', 'ebb-worker-deliveries'])(
  '%s waits for a healthy Temporal, knows its address and mounts ebb.yaml and the warehouse',
  (name) => {
    const worker = services[name] as Service;
    expect(worker.build).toBe('.');
    expect(worker.depends_on?.temporal).toEqual({ condition: 'service_healthy' });
    expect(worker.depends_on?.['ebb-state-db']).toEqual({ condition: 'service_healthy' });
    expect(worker.environment).toMatchObject({
      EBB_TEMPORAL_ADDRESS: 'temporal:7233',
      EBB_STATE_URL: expect.stringMatching(/^postgres:\/\/.+@ebb-state-db:5432\//),
    });
    expect(worker.volumes).toEqual(
      expect.arrayContaining(['./ebb.yaml:/app/ebb.yaml:ro', './warehouse:/data/warehouse:ro']),
    );
  },
);

test('one worker runs the engine and Salesforce queues, the other the Salesforce and Slack queues', () => {
  expect(services['ebb-worker-engine']?.command).toEqual(['worker', '--queues', 'engine,salesforce']);
  expect(services['ebb-worker-deliveries']?.command).toEqual(['worker', '--queues', 'salesforce,slack']);
});

test('the state store is published on the host, for ebb runs/records/status from there', () => {
  expect(services['ebb-state-db']?.ports).toEqual(['127.0.0.1:5433:5432']);
});

test('the Dockerfile builds on Node 20 and runs the worker', () => {
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim$/m);
  expect(dockerfile).toMatch(/npm ci/);
  const entrypoint = /^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1] ?? '';
  const cmd = /^CMD (.+)$/m.exec(dockerfile)?.[1] ?? '';
  expect([...JSON.parse(entrypoint), ...JSON.parse(cmd)]).toEqual(['node', 'bin/ebb.js', 'worker']);
  expect(fs.readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n')).toContain('node_modules');
});

/** `./host/path:/container/path[:ro]` of a service's bind mounts, host paths resolved from the repository. */
function binds(service: Service | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const volume of service?.volumes ?? []) {
    const [host = '', container = ''] = volume.split(':');
    if (host.startsWith('./')) out.set(container, path.join(root, host));
  }
  return out;
}

test("Prometheus scrapes every ebb worker at the metrics address the workers serve, from the repository's prometheus.yml", () => {
  const prometheus = services.prometheus;
  const config = binds(prometheus).get('/etc/prometheus/prometheus.yml');
  expect(config).toBeDefined();
  expect(JSON.stringify(prometheus?.command)).toContain('--config.file=/etc/prometheus/prometheus.yml');
  const scrape = parse(fs.readFileSync(config ?? '', 'utf8')) as {
    scrape_configs: Array<{ dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
  };
  const discovered = scrape.scrape_configs.flatMap((c) => c.dns_sd_configs ?? []);
  for (const name of workerNames) {
    const port = /:(\d+)$/.exec(services[name]?.environment?.EBB_METRICS_ADDRESS ?? '')?.[1];
    expect({ name, port }).toEqual({ name, port: expect.stringMatching(/^\d+$/) });
    expect(discovered).toEqual(
      expect.arrayContaining([expect.objectContaining({ names: expect.arrayContaining([name]), port: Number(port) })]),
    );
  }
});

test('Grafana waits for Prometheus and is provisioned with its datasource and the ebb dashboard from the repository', () => {
  const grafana = services.grafana;
  expect(grafana?.depends_on?.prometheus).toEqual({ condition: 'service_healthy' });
  const mounts = binds(grafana);
  const provisioning = mounts.get('/etc/grafana/provisioning') ?? '';
  const dashboard = mounts.get('/var/lib/grafana/dashboards/ebb-dashboard.json') ?? '';
  expect(fs.existsSync(dashboard)).toBe(true);
  const datasources = parse(fs.readFileSync(path.join(provisioning, 'datasources/prometheus.yml'), 'utf8')) as {
    datasources: Array<{ type: string; url: string }>;
  };
  expect(datasources.datasources).toEqual([
    expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
  ]);
  const providers = parse(fs.readFileSync(path.join(provisioning, 'dashboards/ebb.yml'), 'utf8')) as {
    providers: Array<{ type: string; options: { path: string } }>;
  };
  // The provider reads the folder the dashboard file is mounted into.
  expect(providers.providers).toEqual([
    expect.objectContaining({
      type: 'file',
      options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }),
    }),
  ]);
});
