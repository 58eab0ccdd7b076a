import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Registry, Summary, renderRedis } from '../index';
import { type RedisServer, spawnChild, startRedis, until } from './helpers/redis';

// Four child processes load the Rust Redis backend and update the same metrics; a process that
// defines nothing (the sidecar's position) renders the aggregate from Redis alone.

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.kill();
});

const METRICS = [
  { type: 'counter', config: { name: 'agg_requests_total', help: 'Requests.', labelNames: ['route'] } },
  { type: 'histogram', config: { name: 'agg_latency_seconds', help: 'Latency.', buckets: [0.1, 1, 10] } },
  { type: 'summary', config: { name: 'agg_size_bytes', help: 'Sizes.', percentiles: [0.5, 0.9, 0.99] } },
];

function plan(i: number, prefix: string): Record<string, unknown> {
  const sizes = Array.from({ length: 250 }, (_, k) => i * 250 + k + 1);
  return {
    url: redis.url,
    prefix,
    metrics: METRICS,
    steps: [
      { metric: 0, method: 'inc', labels: { route: '/a' }, times: (i + 1) * 100 },
      { metric: 0, method: 'inc', labels: { route: '/b' }, value: 2.5, times: i + 1 },
      { metric: 1, method: 'observe', value: 0.05, times: 10 * (i + 1) },
      { metric: 1, method: 'observe', value: 5, times: i },
      { metric: 1, method: 'observe', value: 50, times: 1 },
      ...sizes.map((v) => ({ metric: 2, method: 'observe', value: v })),
    ],
  };
}

describe('Redis backend across processes', () => {
  it("adds four processes' counters, histograms and summary sketches exactly", async () => {
    const children = [0, 1, 2, 3].map((i) => spawnChild(plan(i, 'agg')));
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0, 0, 0]);

    const text = await renderRedis({ url: redis.url, prefix: 'agg' });
    // 100+200+300+400 = 1000 on /a; 2.5 × (1+2+3+4) = 25 on /b.
    expect(text).toContain('agg_requests_total{route="/a"} 1000\nagg_requests_total{route="/b"} 25\n');
    // 0.05 × 100, 5 × 6, 50 × 4.
    expect(text).toContain(
      [
        'agg_latency_seconds_bucket{le="0.1"} 100',
        'agg_latency_seconds_bucket{le="1"} 100',
        'agg_latency_seconds_bucket{le="10"} 106',
        'agg_latency_seconds_bucket{le="+Inf"} 110',
        'agg_latency_seconds_sum 235',
        'agg_latency_seconds_count 110',
      ].join('\n'),
    );
    // The merged sketch equals one sketch of all 1000 values (quantiles of the aggregate, not
    // an average of per-process quantiles).
    const local = new Registry();
    const s = new Summary({
      name: 'agg_size_bytes',
      help: 'Sizes.',
      percentiles: [0.5, 0.9, 0.99],
      registers: [local],
    });
    for (let v = 1; v <= 1000; v++) s.observe(v);
    const want = (await local.metrics()).split('\n').filter((l) => l.startsWith('agg_size_bytes'));
    const got = text.split('\n').filter((l) => l.startsWith('agg_size_bytes'));
    expect(got).toEqual(want);
    expect(got).toContain('agg_size_bytes_count 1000');
    expect(text).toContain('# HELP agg_latency_seconds Latency.\n# TYPE agg_latency_seconds histogram\n');
  });

  it('keeps prefixes apart and renders OpenMetrics with default labels', async () => {
    const a = spawnChild({
      url: redis.url,
      prefix: 'svc-a',
      metrics: [METRICS[0]],
      steps: [{ metric: 0, method: 'inc', labels: { route: '/x' }, times: 3 }],
    });
    const b = spawnChild({
      url: redis.url,
      prefix: 'svc-b',
      metrics: [METRICS[0]],
      steps: [{ metric: 0, method: 'inc', labels: { route: '/x' }, times: 7 }],
    });
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
    expect(await renderRedis({ url: redis.url, prefix: 'svc-a' })).toBe(
      '# HELP agg_requests_total Requests.\n# TYPE agg_requests_total counter\nagg_requests_total{route="/x"} 3\n',
    );
    expect(
      await renderRedis({ url: redis.url, prefix: 'svc-b', openMetrics: true, defaultLabels: { env: 'prod' } }),
    ).toBe(
      '# HELP agg_requests Requests.\n# TYPE agg_requests counter\nagg_requests_total{route="/x",env="prod"} 7\n# EOF\n',
    );
  });

  it('merges windowed summaries over live processes only, keeping count and sum of all', async () => {
    const config = { name: 'win_seconds', help: 'W.', percentiles: [0.5, 0.9], maxAgeSeconds: 60, ageBuckets: 2 };
    const children = [0, 1].map((i) =>
      spawnChild({
        url: redis.url,
        prefix: 'win',
        processTtlMs: 500,
        flushIntervalMs: 50,
        then: 'stay',
        metrics: [{ type: 'summary', config }],
        steps: Array.from({ length: 100 }, (_, k) => ({ metric: 0, method: 'observe', value: i * 100 + k + 1 })),
      }),
    );
    await Promise.all(children.map((c) => c.waitFor('ready')));
    const lines = async () =>
      (await renderRedis({ url: redis.url, prefix: 'win' })).split('\n').filter((l) => l.startsWith('win_seconds'));
    const local = async (max: number) => {
      const reg = new Registry();
      const s = new Summary({ ...config, registers: [reg] });
      for (let v = 1; v <= max; v++) s.observe(v);
      return (await reg.metrics()).split('\n').filter((l) => l.startsWith('win_seconds{'));
    };
    await until('both flushed', async () => (await lines()).includes('win_seconds_count 200'));
    expect(await lines()).toEqual([...(await local(200)), 'win_seconds_sum 20100', 'win_seconds_count 200']);
    children[1].proc.kill('SIGKILL');
    // The dead process's window leaves the quantiles; its observations stay in _count/_sum.
    const alone = await local(100);
    await until('dead process expired', async () => (await lines())[0] === alone[0]);
    expect(await lines()).toEqual([...alone, 'win_seconds_sum 20100', 'win_seconds_count 200']);
    children[0].send('exit');
    expect(await children[0].exited).toBe(0);
  });

  it('renders nothing for an unknown prefix and rejects an unreachable Redis', async () => {
    expect(await renderRedis({ url: redis.url, prefix: 'nobody' })).toBe('\n');
    await expect(renderRedis({ url: 'redis://127.0.0.1:1', prefix: 'x', timeoutMs: 200 })).rejects.toThrow(
      /cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/,
    );
  });
});
