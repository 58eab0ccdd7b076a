import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsMiddleware, Registry, startHttpServer, type MetricsHTTPServer } from '../index';
import { PrometheusProcess } from './helpers/prometheus';

// The docker-compose deployment (docker-compose.yml, Dockerfile, deploy/), checked offline with
// no Docker daemon: Debian's docker-compose 1.29 parses and normalises the compose file
// (`config` never talks to the daemon; DOCKER_HOST points nowhere to prove it), Debian's
// promtool checks the Prometheus config and the dashboard's PromQL, and Debian's Prometheus
// applies the config's Consul relabelling to a real promsd server and answers the dashboard's
// queries. YAML is read with PyYAML (python3-yaml, a dependency of the docker-compose package).

const ROOT = resolve(__dirname, '..');
const DEMO_SERVICE = 'promsd-demo';
const SIDECAR_SERVICE = 'promsd-sidecar';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool; a missing one fails with the Debian package that provides it. */
function run(
  cmd: string,
  args: string[],
  debianPackage: string,
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Run {
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    input: opts.input,
    env: opts.env ?? process.env,
  });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `${cmd} is not on PATH; install it with: apt-get install -y --no-install-recommends ${debianPackage}`,
      );
    }
    throw r.error;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** YAML → plain data, through PyYAML's safe loader. */
function parseYaml(text: string): any {
  const r = run(
    'python3',
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    'python3-yaml',
    { input: text },
  );
  if (r.status !== 0) throw new Error(`YAML parse failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const readRepo = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** `docker-compose config` with no daemon reachable and no ambient compose settings. */
function composeConfig(): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
  for (const k of Object.keys(env)) if (k.startsWith('COMPOSE_')) delete env[k];
  return run('docker-compose', ['-f', 'docker-compose.yml', 'config'], 'docker-compose', { env });
}

/** Host side of a bind mount `host:container[:mode]` (docker-compose 1.29's normalised form). */
function bindMounts(service: any): { host: string; target: string; mode: string | undefined }[] {
  return (service.volumes ?? []).map((v: string | { source: string; target: string; read_only?: boolean }) => {
    if (typeof v !== 'string') return { host: v.source, target: v.target, mode: v.read_only ? 'ro' : undefined };
    const [host = '', target = '', mode] = v.split(':');
    return { host, target, mode };
  });
}

describe('docker-compose.yml', () => {
  let compose: any;
  let services: Record<string, any>;

  beforeAll(() => {
    const r = composeConfig();
    expect(r.stderr, 'docker-compose config stderr').not.toMatch(/WARN|ERROR/i);
    expect(r.status, r.stderr).toBe(0);
    compose = parseYaml(r.stdout);
    services = compose.services;
  });

  it('validates with docker-compose config and defines exactly the six services', () => {
    expect(Object.keys(services).sort()).toEqual(['consul', 'demo', 'grafana', 'prometheus', 'redis', 'sidecar']);
    expect(services.redis.image).toMatch(/^redis:7/);
    expect(services.consul.image).toMatch(/^hashicorp\/consul:/);
    expect(services.consul.command).toEqual(['agent', '-dev', '-client', '0.0.0.0']);
    expect(services.prometheus.image).toMatch(/^prom\/prometheus:/);
    expect(services.grafana.image).toMatch(/^grafana\/grafana:/);
  });

  it('runs the demo as 3 replicas and the sidecar from the image built by the Dockerfile', () => {
    for (const name of ['demo', 'sidecar']) {
      expect(services[name].build.context, name).toBe(ROOT);
      expect(services[name].image, name).toBe(services.demo.image);
      expect(services[name].init, name).toBe(true);
    }
    expect(services.demo.deploy.replicas).toBe(3);
    expect(services.demo.command).toEqual(['demo']);
    // Three replicas cannot publish one host port; Prometheus reaches them on the network.
    expect(services.demo.ports).toBeUndefined();
    expect(services.sidecar.command).toEqual(['serve']);
    expect(services.sidecar.ports).toEqual(['127.0.0.1:9464:9464/tcp']);
  });

  it('puts the demo and the sidecar on one Redis prefix, registered in Consul under their own names', () => {
    const shared = {
      PROMSD_BACKEND: 'redis',
      PROMSD_REDIS_URL: 'redis://redis:6379',
      PROMSD_PREFIX: 'demo',
      PROMSD_SD: 'consul',
      CONSUL_HTTP_ADDR: 'http://consul:8500',
      PROMSD_PORT: '9464',
      PROMSD_ADDR: '0.0.0.0',
    };
    expect(services.demo.environment).toMatchObject({ ...shared, PROMSD_SERVICE_NAME: DEMO_SERVICE });
    expect(services.sidecar.environment).toMatchObject({ ...shared, PROMSD_SERVICE_NAME: SIDECAR_SERVICE });
    // The health check probes the port the server is told to use.
    for (const name of ['demo', 'sidecar']) {
      expect(services[name].healthcheck.test.join(' '), name).toContain(
        `127.0.0.1:${services[name].environment.PROMSD_PORT}/healthz`,
      );
    }
  });

  it('starts in dependency order on health checks, and restarts every service', () => {
    for (const name of ['demo', 'sidecar']) {
      expect(services[name].depends_on, name).toEqual({
        redis: { condition: 'service_healthy' },
        consul: { condition: 'service_healthy' },
      });
    }
    expect(services.prometheus.depends_on).toEqual({ consul: { condition: 'service_healthy' } });
    expect(services.grafana.depends_on).toEqual({ prometheus: { condition: 'service_healthy' } });
    expect(services.redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(services.consul.healthcheck.test).toEqual(['CMD', 'consul', 'members']);
    for (const [name, svc] of Object.entries(services)) {
      expect(svc.restart, name).toBe('unless-stopped');
      // A service_healthy dependency on a service without a health check would never start.
      for (const [dep, { condition }] of Object.entries(svc.depends_on ?? {}) as [string, { condition: string }][]) {
        if (condition === 'service_healthy') expect(services[dep].healthcheck?.test, `${name} → ${dep}`).toBeDefined();
      }
    }
  });

  it('mounts the Prometheus config and the Grafana provisioning read-only, from paths that exist', () => {
    expect(bindMounts(services.prometheus)).toEqual([
      { host: join(ROOT, 'deploy/prometheus'), target: '/etc/prometheus', mode: 'ro' },
    ]);
    expect(services.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(bindMounts(services.grafana)).toEqual([
      { host: join(ROOT, 'deploy/grafana/provisioning'), target: '/etc/grafana/provisioning', mode: 'ro' },
      { host: join(ROOT, 'deploy/grafana/dashboards'), target: '/etc/grafana/dashboards', mode: 'ro' },
    ]);
    for (const svc of Object.values(services))
      for (const m of bindMounts(svc)) expect(existsSync(m.host), m.host).toBe(true);
    expect(existsSync(join(ROOT, 'deploy/prometheus/prometheus.yml'))).toBe(true);
  });

  it('opens Grafana on the provisioned dashboard for anonymous viewers', () => {
    const env = services.grafana.environment;
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    expect(env.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    // The home dashboard path, inside the container, maps to the JSON in the repo.
    const home: string = env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    const mount = bindMounts(services.grafana).find((m) => home.startsWith(`${m.target}/`));
    expect(mount, home).toBeDefined();
    expect(existsSync(join(mount!.host, posix.relative(mount!.target, home)))).toBe(true);

    const datasources = parseYaml(readRepo('deploy/grafana/provisioning/datasources/prometheus.yml')).datasources;
    expect(datasources).toEqual([
      expect.objectContaining({
        type: 'prometheus',
        uid: 'prometheus',
        url: 'http://prometheus:9090',
        isDefault: true,
      }),
    ]);
    const providers = parseYaml(readRepo('deploy/grafana/provisioning/dashboards/promsd.yml')).providers;
    expect(providers).toEqual([expect.objectContaining({ type: 'file', options: { path: mount!.target } })]);
  });
});

describe('Dockerfile and .dockerignore', () => {
  // Instructions with line continuations joined and comments dropped.
  const instructions = readRepo('Dockerfile')
    .replace(/^\s*#.*\n/gm, '')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const stages: string[][] = [];
  for (const ins of instructions) {
    if (/^FROM\s/i.test(ins)) stages.push([]);
    stages.at(-1)?.push(ins);
  }
  const args = Object.fromEntries(
    instructions.filter((i) => /^ARG \w+=/.test(i)).map((i) => i.slice(4).split('=') as [string, string]),
  );
  const from = (stage: string[]): string => (stage[0] ?? '').replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
  const runtime = stages.at(-1) ?? [];

  it('builds on node:20-bookworm and runs on node:20-bookworm-slim', () => {
    expect(stages.length).toBe(2);
    expect(from(stages[0]!)).toBe('FROM node:20-bookworm AS build');
    expect(from(runtime)).toBe('FROM node:20-bookworm-slim AS runtime');
    expect(stages[0]!.some((i) => i.includes('sh.rustup.rs') && i.includes('--profile minimal'))).toBe(true);
    expect(stages[0]!).toContain('RUN npm ci --no-audit --no-fund --ignore-scripts');
    expect(stages[0]!.some((i) => i.startsWith('RUN npm run build'))).toBe(true);
    expect(stages[0]!.some((i) => i.startsWith('RUN npm prune --omit=dev'))).toBe(true);
  });

  it('ships what package.json publishes, as a non-root user, with the promsd command as entrypoint', () => {
    const copied = runtime
      .filter((i) => i.startsWith('COPY --from=build '))
      .flatMap((i) => i.split(/\s+/).slice(2, -1))
      .map((src) => src.replace(/^\/src\//, ''));
    const pkg = JSON.parse(readRepo('package.json')) as { files: string[]; bin?: string | Record<string, string> };
    for (const f of [...pkg.files.filter((f) => !f.startsWith('!')), 'package.json', 'node_modules'])
      expect(copied, f).toContain(f);

    const users = runtime.filter((i) => i.startsWith('USER '));
    expect(users.at(-1)).toBe('USER node');
    expect(runtime).toContain('ENTRYPOINT ["node", "dist/cli/main.js"]');
    expect(runtime).toContain('CMD ["demo"]');
    // package.json's `bin`, once declared, names the same script.
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.promsd;
    expect([undefined, 'dist/cli/main.js']).toContain(bin?.replace(/^\.\//, ''));
  });

  it('pre-fetches the crates of exactly the Cargo workspace members', () => {
    // The fetch layer copies each member's manifest before the sources; a member added to the
    // workspace without its manifest copied there would fail the image build.
    const members = [.../members\s*=\s*\[([^\]]*)\]/.exec(readRepo('Cargo.toml'))![1]!.matchAll(/"([^"]+)"/g)].map(
      (m) => m[1],
    );
    const manifests = stages[0]!.flatMap((i) => /^COPY (\S+)\/Cargo\.toml \1\/Cargo\.toml$/.exec(i)?.[1] ?? []);
    expect(manifests).toEqual(members);
  });

  it('keeps host build output and local state out of the build context', () => {
    const ignored = readRepo('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const p of ['node_modules', 'target', 'dist', 'native/*.node', '.git', 'scratch', '.promsd', 'bench/.venv'])
      expect(ignored, p).toContain(p);
    // Everything the build reads must stay in.
    for (const p of [
      'package.json',
      'package-lock.json',
      'Cargo.toml',
      'Cargo.lock',
      'native',
      'index.ts',
      'tsconfig.json',
      'tsconfig.build.json',
    ]) {
      expect(ignored, p).not.toContain(p);
    }
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  const text = readRepo('deploy/prometheus/prometheus.yml');
  const config = parseYaml(text);
  const consulJob = (config.scrape_configs as any[]).find((s) => s.consul_sd_configs !== undefined);

  /** The Consul job with its SD section replaced by static targets carrying the same meta labels. */
  const withStaticTargets = (targets: string[], labels: Record<string, string>): any => {
    const { consul_sd_configs: _, ...rest } = consulJob;
    return { ...rest, static_configs: [{ targets, labels }] };
  };

  it('scrapes itself and every Consul service tagged metrics, with job and service set to the service name', () => {
    expect(config.scrape_configs).toContainEqual(
      expect.objectContaining({ job_name: 'prometheus', static_configs: [{ targets: ['localhost:9090'] }] }),
    );
    expect(consulJob.consul_sd_configs).toEqual([
      expect.objectContaining({ server: 'consul:8500', tags: ['metrics'] }),
    ]);
    for (const target of ['job', 'service']) {
      expect(consulJob.relabel_configs).toContainEqual({
        source_labels: ['__meta_consul_service'],
        target_label: target,
      });
    }
    expect(consulJob.relabel_configs).toContainEqual({
      source_labels: ['__meta_consul_service_metadata_metrics_path'],
      regex: '(.+)',
      target_label: '__metrics_path__',
    });
  });

  it('passes promtool check config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promsd-compose-'));
    try {
      const original = run(
        'promtool',
        ['check', 'config', join(ROOT, 'deploy/prometheus/prometheus.yml')],
        'prometheus',
      );
      if (original.status !== 0) {
        // Debian's Prometheus is built without Consul SD: the only error allowed is that one. The
        // rest of the file (globals, relabelling regexes and targets) is then checked with the
        // SD section swapped for static targets.
        expect(`${original.stdout}${original.stderr}`).toMatch(/field consul_sd_configs not found/);
        const substituted = {
          ...config,
          scrape_configs: config.scrape_configs.map((s: any) =>
            s === consulJob ? withStaticTargets(['demo:9464'], {}) : s,
          ),
        };
        writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(substituted));
        const r = run('promtool', ['check', 'config', join(dir, 'prometheus.yml')], 'prometheus');
        expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/grafana/dashboards/promsd-demo.json', () => {
  const dashboard = JSON.parse(readRepo('deploy/grafana/dashboards/promsd-demo.json'));
  const panels: any[] = dashboard.panels;
  const exprs = (p: any): string[] => p.targets.map((t: any) => t.expr);
  const all = panels.flatMap(exprs);

  it('queries the provisioned datasource in every panel', () => {
    expect(dashboard.uid).toBe('promsd-demo');
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: 'prometheus' });
      for (const t of p.targets) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: 'prometheus' });
    }
  });

  it('shows request rate by route, p50/p90/p99 latency and per-process liveness', () => {
    expect(all.some((e) => /^sum by \(route\) \(rate\(http_requests_total(\{[^}]*\})?\[1m\]\)\)$/.test(e))).toBe(true);
    const latency = panels.find((p) => p.title === 'Latency percentiles');
    expect(
      exprs(latency).map(
        (e) =>
          /^histogram_quantile\(([\d.]+), sum by \(le\) \(rate\(http_request_duration_seconds_bucket(\{[^}]*\})?\[1m\]\)\)\)$/.exec(
            e,
          )?.[1],
      ),
    ).toEqual(['0.5', '0.9', '0.99']);
    expect(all.some((e) => e.startsWith('up{') && e.includes(DEMO_SERVICE))).toBe(true);
    expect(all.some((e) => e.startsWith(`count(up{job="${DEMO_SERVICE}"} == 1)`))).toBe(true);
  });

  it('names the jobs the Consul relabelling produces from the compose services', () => {
    const composeEnv = (name: string): string =>
      parseYaml(readRepo('docker-compose.yml')).services[name].environment.PROMSD_SERVICE_NAME;
    expect([composeEnv('demo'), composeEnv('sidecar')]).toEqual([DEMO_SERVICE, SIDECAR_SERVICE]);
    const jobs = new Set(all.flatMap((e) => [...e.matchAll(/job=~?"([^"]+)"/g)].flatMap((m) => m[1]!.split('|'))));
    expect([...jobs].sort()).toEqual([DEMO_SERVICE, SIDECAR_SERVICE]);
  });

  it('has PromQL that promtool parses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promsd-dashboard-'));
    try {
      const rules = {
        groups: [{ name: 'dashboard', rules: all.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }],
      };
      writeFileSync(join(dir, 'rules.yml'), JSON.stringify(rules));
      const r = run('promtool', ['check', 'rules', join(dir, 'rules.yml')], 'prometheus');
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Prometheus with the compose relabelling, scraping a promsd server as Consul would list it', () => {
  // A sidecar-like promsd server on a non-default path, with the metrics of metricsMiddleware
  // (the names and labels the dashboard queries), fed with steady traffic.
  const METRICS_PATH = '/custom-metrics';
  const registry = new Registry();
  const app = new Hono();
  app.use(metricsMiddleware({ registry }));
  app.get('/users/:id', (c) => c.text('ok'));
  app.get('/orders', (c) => c.text('ok'));
  app.get('/fail', (c) => c.text('no', 500));
  let traffic: NodeJS.Timeout | undefined;
  let server: MetricsHTTPServer | undefined;
  let prometheus: PrometheusProcess | undefined;

  beforeAll(async () => {
    let n = 0;
    traffic = setInterval(() => {
      for (const path of ['/users/1', '/users/2', '/orders', n++ % 5 === 0 ? '/fail' : '/orders'])
        void app.request(path);
    }, 20);
    server = await startHttpServer({ registry, port: 0, addr: '127.0.0.1', path: METRICS_PATH });
    const config = parseYaml(readRepo('deploy/prometheus/prometheus.yml'));
    const consulJob = (config.scrape_configs as any[]).find((s) => s.consul_sd_configs !== undefined);
    const { consul_sd_configs: _, ...job } = consulJob;
    // The labels Prometheus' Consul SD attaches to a service instance registered by ConsulAgent.
    const scrape = {
      ...job,
      static_configs: [
        {
          targets: [`127.0.0.1:${server.socket.port}`],
          labels: {
            __meta_consul_service: SIDECAR_SERVICE,
            __meta_consul_service_id: `${SIDECAR_SERVICE}-test-1`,
            __meta_consul_service_metadata_metrics_path: METRICS_PATH,
            __meta_consul_tags: ',metrics,',
          },
        },
      ],
    };
    prometheus = await PrometheusProcess.start(`  - ${JSON.stringify(scrape)}\n`);
  });

  afterAll(async () => {
    clearInterval(traffic);
    await prometheus?.stop();
    await server?.close();
  });

  it('labels the target with the service name and scrapes the registered metrics path', async () => {
    const up = await prometheus!.waitFor(`up{job="${SIDECAR_SERVICE}"} == 1`, (r) => r.length === 1);
    expect(up[0]!.metric).toMatchObject({
      job: SIDECAR_SERVICE,
      service: SIDECAR_SERVICE,
      service_id: `${SIDECAR_SERVICE}-test-1`,
    });
  });

  it("answers every dashboard query that reads the sidecar's aggregate", async () => {
    const dashboard = JSON.parse(readRepo('deploy/grafana/dashboards/promsd-demo.json'));
    const queries: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));
    const finite = (r: { value: [number, string] }[]): boolean =>
      r.length > 0 && r.every((s) => Number.isFinite(Number(s.value[1])));
    for (const q of queries) {
      // Every query has an answer; the demo job has no target here, so its count is 0.
      const r = await prometheus!.waitFor(q, finite);
      if (q.includes('by (route)'))
        expect(r.map((s) => s.metric.route).sort(), q).toEqual(['/fail', '/orders', '/users/:id']);
    }
  });
});
