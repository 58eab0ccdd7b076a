import { afterAll, describe, expect, it } from 'vitest';
import { Histogram, Registry, startHttpServer, startHttpServerInThread } from '../index';
import type { MetricsHTTPServer, ThreadedMetricsHTTPServer } from '../index';
import { PrometheusProcess } from './helpers/prometheus';

// End to end: Debian's Prometheus 2.42 with --enable-feature=native-histograms asks for the
// protobuf format first, ingests promsd's native histograms, and its PromQL functions give the
// count and sum of the observations exactly and the 0.9 quantile within the schema's bound.

/** 1, 2, …, 100: count 100, sum 5050, 0.9 quantile 90. */
const VALUES = Array.from({ length: 100 }, (_, i) => i + 1);

/** Schema 3 (factor 1.1): a bucket's bounds differ by 2^(1/8); the estimate lies in the true value's bucket. */
const BOUND = 2 ** (1 / 8);

describe('Prometheus scraping native histograms', () => {
  let prometheus: PrometheusProcess | undefined;
  const servers: (MetricsHTTPServer | ThreadedMetricsHTTPServer)[] = [];
  afterAll(async () => {
    await prometheus?.stop();
    await Promise.allSettled(servers.map((s) => s.close()));
  });

  it('ingests them from the in-thread and the threaded server; the text scrape keeps its classic buckets', async () => {
    const registry = new Registry();
    const direct = new Histogram({
      name: 'nh_direct_seconds',
      help: 'Direct.',
      buckets: [10, 50],
      nativeHistogramBucketFactor: 1.1,
      registers: [registry],
    });
    const threaded = new Histogram({
      name: 'nh_threaded_seconds',
      help: 'Threaded.',
      buckets: [],
      nativeHistogramBucketFactor: 1.1,
    });
    for (const v of VALUES) {
      direct.observe(v);
      threaded.observe(v);
    }
    const a = await startHttpServer({ addr: '127.0.0.1', registry });
    const b = await startHttpServerInThread({ addr: '127.0.0.1', path: '/prom' });
    servers.push(a, b);
    prometheus = await PrometheusProcess.start(
      `  - job_name: direct\n    static_configs:\n      - targets: ['127.0.0.1:${a.socket.port}']\n` +
        `  - job_name: threaded\n    metrics_path: /prom\n    static_configs:\n      - targets: ['127.0.0.1:${b.socket.port}']\n`,
      ['--enable-feature=native-histograms'],
    );
    for (const name of ['nh_direct_seconds', 'nh_threaded_seconds']) {
      const count = await prometheus.waitFor(`histogram_count(${name})`, (r) => r.length === 1);
      expect(count[0]?.value[1]).toBe('100');
      expect((await prometheus.query(`histogram_sum(${name})`))[0]?.value[1]).toBe('5050');
      const q = Number((await prometheus.query(`histogram_quantile(0.9, ${name})`))[0]?.value[1]);
      expect(q).toBeGreaterThan(90 / BOUND);
      expect(q).toBeLessThanOrEqual(90 * BOUND);
      // Ingested as a native histogram: no classic series.
      expect(await prometheus.query(`${name}_count`)).toEqual([]);
    }

    // A text scraper still gets the classic buckets, exactly as without native ones.
    const text = await (await fetch(`${a.url}`, { headers: { accept: 'text/plain' } })).text();
    expect(text).toBe(
      '# HELP nh_direct_seconds Direct.\n# TYPE nh_direct_seconds histogram\n' +
        'nh_direct_seconds_bucket{le="10"} 10\nnh_direct_seconds_bucket{le="50"} 50\n' +
        'nh_direct_seconds_bucket{le="+Inf"} 100\nnh_direct_seconds_sum 5050\nnh_direct_seconds_count 100\n',
    );
  }, 60_000);
});
