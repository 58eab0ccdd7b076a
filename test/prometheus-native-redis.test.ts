import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROTOBUF_CONTENT_TYPE,
  RedisBackend,
  loadBackend,
  register,
  startHttpServer,
  startHttpServerInThread,
} from '../index';
import type { MetricsHTTPServer, ThreadedMetricsHTTPServer } from '../index';
import { bucketIndex } from '../metrics/native-histogram';
import { PrometheusProcess } from './helpers/prometheus';
import { decodeFamilies } from './helpers/protoc';
import { type RedisServer, spawnChild, startRedis } from './helpers/redis';

// Native histograms across processes: three child processes observe 1…100 between them (one of
// them with a bucket limit that reduces its schema) through the Rust Redis backend; this process
// defines nothing, serves the aggregate (in-thread and threaded), and Debian's Prometheus 2.42
// with native histograms scrapes it.

let redis: RedisServer;
let prometheus: PrometheusProcess | undefined;
let backend: RedisBackend | undefined;
const servers: (MetricsHTTPServer | ThreadedMetricsHTTPServer)[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await prometheus?.stop();
  await Promise.allSettled(servers.map((s) => s.close()));
  await backend?.close();
  await redis.kill();
});

const NAME = 'nhr_latency_seconds';

function plan(i: number): Record<string, unknown> {
  const config: Record<string, unknown> = {
    name: NAME,
    help: 'Latency.',
    buckets: [10, 50],
    nativeHistogramBucketFactor: 1.1,
  };
  if (i === 2) config.nativeHistogramMaxBucketNumber = 10;
  const values = Array.from({ length: 100 }, (_, k) => k + 1).filter((v) => v % 3 === i);
  return {
    url: redis.url,
    prefix: 'nhr',
    metrics: [{ type: 'histogram', config }],
    steps: values.map((value) => ({ metric: 0, method: 'observe', value })),
  };
}

describe('native histograms over Redis', () => {
  it('aggregate three processes exactly, and Prometheus reads the aggregate', async () => {
    const children = [0, 1, 2].map((i) => spawnChild(plan(i)));
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0, 0]);

    backend = loadBackend(
      new RedisBackend({
        url: redis.url,
        prefix: 'nhr',
        flushIntervalMs: 100,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      }),
    ) as RedisBackend;
    // The aggregate equals one histogram of all 100 observations at the smallest schema.
    const decoded = decodeFamilies(await register.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE }));
    const fam = decoded.find((f) => f.startsWith(`name: "${NAME}"`)) as string;
    const schema = Number(/schema: (-?\d+)/.exec(fam)?.[1]);
    expect(schema).toBeLessThan(3); // the limited process reduced its schema; the others merged down
    const buckets = new Map<number, number>();
    for (let v = 1; v <= 100; v++) {
      const k = bucketIndex(v, schema);
      buckets.set(k, (buckets.get(k) ?? 0) + 1);
    }
    const keys = [...buckets.keys()].sort((a, b) => a - b);
    const spans: string[] = [];
    const deltas: number[] = [];
    let prev = 0;
    let next = 0;
    keys.forEach((k, n) => {
      const gap = k - next;
      if (n === 0 || gap > 2) spans.push(`${gap}:0`);
      else
        for (let g = 0; g < gap; g++) {
          deltas.push(-prev);
          prev = 0;
          spans[spans.length - 1] = spans[spans.length - 1].replace(/:(\d+)$/, (_, l) => `:${Number(l) + 1}`);
        }
      const c = buckets.get(k) as number;
      deltas.push(c - prev);
      prev = c;
      spans[spans.length - 1] = spans[spans.length - 1].replace(/:(\d+)$/, (_, l) => `:${Number(l) + 1}`);
      next = k + 1;
    });
    const got = {
      count: /sample_count: (\d+)/.exec(fam)?.[1],
      sum: /sample_sum: (\S+)/.exec(fam)?.[1],
      spans: [...fam.matchAll(/positive_span \{\n\s+offset: (-?\d+)\n\s+length: (\d+)/g)].map((m) => `${m[1]}:${m[2]}`),
      deltas: [...fam.matchAll(/positive_delta: (-?\d+)/g)].map((m) => Number(m[1])),
    };
    expect(got).toEqual({ count: '100', sum: '5050', spans, deltas });

    const direct = await startHttpServer({ addr: '127.0.0.1' });
    const threaded = await startHttpServerInThread({ addr: '127.0.0.1', path: '/prom' });
    servers.push(direct, threaded);
    prometheus = await PrometheusProcess.start(
      `  - job_name: direct\n    static_configs:\n      - targets: ['127.0.0.1:${direct.socket.port}']\n` +
        `  - job_name: threaded\n    metrics_path: /prom\n    static_configs:\n      - targets: ['127.0.0.1:${threaded.socket.port}']\n`,
      ['--enable-feature=native-histograms'],
    );
    const bound = 2 ** (2 ** -schema);
    for (const job of ['direct', 'threaded']) {
      const sel = `${NAME}{job="${job}"}`;
      const count = await prometheus.waitFor(`histogram_count(${sel})`, (r) => r.length === 1);
      expect(count[0]?.value[1]).toBe('100');
      expect((await prometheus.query(`histogram_sum(${sel})`))[0]?.value[1]).toBe('5050');
      const q = Number((await prometheus.query(`histogram_quantile(0.9, ${sel})`))[0]?.value[1]);
      expect(q).toBeGreaterThan(90 / bound);
      expect(q).toBeLessThanOrEqual(90 * bound);
    }
    // The text aggregate still has the classic buckets.
    const text = await (await fetch(direct.url, { headers: { accept: 'text/plain' } })).text();
    expect(text).toContain(
      `${NAME}_bucket{le="10"} 10\n${NAME}_bucket{le="50"} 50\n${NAME}_bucket{le="+Inf"} 100\n${NAME}_sum 5050\n${NAME}_count 100\n`,
    );
  }, 90_000);
});
