import { afterAll, describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry, startHttpServer, startHttpServerInThread } from '../index';
import type { MetricsHTTPServer, ThreadedMetricsHTTPServer } from '../index';
import { PrometheusProcess } from './helpers/prometheus';

// End to end: Debian's real Prometheus scrapes both servers (it asks for OpenMetrics, gzip), and
// its HTTP API shows the targets up with the values this process wrote.
describe('Prometheus scraping promsd', () => {
  let prometheus: PrometheusProcess | undefined;
  const servers: (MetricsHTTPServer | ThreadedMetricsHTTPServer)[] = [];
  afterAll(async () => {
    await prometheus?.stop();
    await Promise.allSettled(servers.map((s) => s.close()));
  });

  it('scrapes the in-thread and the threaded server', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ service: 'e2e' });
    const requests = new Counter({
      name: 'e2e_requests_total',
      help: 'Requests.',
      labelNames: ['path'],
      registers: [registry],
    });
    requests.inc({ path: '/a' }, 5);
    requests.inc({ path: '/b' }, 2);
    const latency = new Histogram({
      name: 'e2e_latency_seconds',
      help: 'Latency.',
      buckets: [0.1, 1],
      registers: [registry],
    });
    latency.observe(0.05);
    latency.observe(0.5);
    const threadedCounter = new Counter({ name: 'e2e_threaded_total', help: 'Threaded.' });
    threadedCounter.inc(11);

    const direct = await startHttpServer({ addr: '127.0.0.1', registry, auth: { token: 'tok' } });
    const threaded = await startHttpServerInThread({ addr: '127.0.0.1', path: '/prom' });
    servers.push(direct, threaded);
    prometheus = await PrometheusProcess.start(
      `  - job_name: direct\n    authorization:\n      credentials: tok\n    static_configs:\n      - targets: ['127.0.0.1:${direct.socket.port}']\n` +
        `  - job_name: threaded\n    metrics_path: /prom\n    static_configs:\n      - targets: ['127.0.0.1:${threaded.socket.port}']\n`,
    );
    const up = await prometheus.waitFor('up', (r) => r.length === 2 && r.every((s) => s.value[1] === '1'));
    expect(up.map((s) => s.metric.job).sort()).toEqual(['direct', 'threaded']);
    const a = await prometheus.waitFor('e2e_requests_total{path="/a"}', (r) => r.length === 1);
    expect(a[0]?.value[1]).toBe('5');
    expect(a[0]?.metric).toEqual({
      __name__: 'e2e_requests_total',
      path: '/a',
      service: 'e2e',
      instance: `127.0.0.1:${direct.socket.port}`,
      job: 'direct',
    });
    expect((await prometheus.query('sum(e2e_requests_total)'))[0]?.value[1]).toBe('7');
    expect((await prometheus.query('e2e_latency_seconds_bucket{le="1"}'))[0]?.value[1]).toBe('2');
    expect((await prometheus.query('e2e_latency_seconds_bucket{le="0.1"}'))[0]?.value[1]).toBe('1');
    const t = await prometheus.waitFor('e2e_threaded_total', (r) => r.length === 1);
    expect(t[0]?.value[1]).toBe('11');
    // Prometheus negotiated OpenMetrics: the counter family carries no _total in its metadata.
    const meta = (await (await fetch(`${prometheus.url}/api/v1/metadata?metric=e2e_requests`)).json()) as {
      data: Record<string, unknown[]>;
    };
    expect(Object.keys(meta.data)).toEqual(['e2e_requests']);
  });
});
