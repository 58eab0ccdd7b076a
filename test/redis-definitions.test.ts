import { describe, expect, it } from 'vitest';

import {
  Counter,
  EmbeddedBackend,
  Gauge,
  Histogram,
  IoredisBackend,
  type Logger,
  RedisBackend,
  loadBackend,
  register,
  renderRedis,
} from '../index';
import { getBackend } from '../backend/load';
import { redisCommand, spawnChild, until, useRedisForFile } from './helpers/redis';

// Definitions are compared across processes (protocol §5): a family whose shape differs from the
// one a live process holds is refused for the newcomer with one clear error, never merged; once
// no live process holds the old definition, the new one replaces it.

const redis = useRedisForFile();

function capture(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('definitions compared across processes', () => {
  it('refuses histogram buckets that differ from a live process, then takes over when it exits', async () => {
    const child = spawnChild({
      url: redis.url,
      prefix: 'defs',
      metrics: [{ type: 'histogram', config: { name: 'http_seconds', help: 'Old.', buckets: [1, 2] } }],
      steps: [{ metric: 0, method: 'observe', value: 1.5 }],
      then: 'stay',
    });
    await child.waitFor('ready');
    await until('the old definition is stored', async () =>
      (await renderRedis({ url: redis.url, prefix: 'defs' })).includes('http_seconds_count 1'),
    );

    const { lines, logger } = capture();
    loadBackend(new RedisBackend({ url: redis.url, prefix: 'defs', flushIntervalMs: 100, selfMetrics: true, logger }));
    const h = new Histogram({ name: 'http_seconds', help: 'New.', buckets: [10, 100] });
    h.observe(50);
    await getBackend()?.flush();
    await getBackend()?.flush();
    await until('the refusal is logged', async () => lines.some((l) => l.startsWith('error')));
    const refused =
      'promsd: metric "http_seconds" refused by the aggregate: buckets [10,100] differ from [1,2] stored by another process';
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([`error ${refused}`]);
    // The aggregate keeps the live process's definition and only its observation.
    expect(await renderRedis({ url: redis.url, prefix: 'defs' })).toBe(
      [
        '# HELP http_seconds Old.',
        '# TYPE http_seconds histogram',
        'http_seconds_bucket{le="1"} 0',
        'http_seconds_bucket{le="2"} 1',
        'http_seconds_bucket{le="+Inf"} 1',
        'http_seconds_sum 1.5',
        'http_seconds_count 1',
        '',
      ].join('\n'),
    );

    expect(await register.metrics()).toContain('\npromsd_backend_refused_families 1\n');

    // The old process exits (close() releases its definitions): the next flush replaces the
    // definition, and the old totals go with it (they cannot be read under the new buckets).
    child.send('exit');
    expect(await child.exited).toBe(0);
    // One flush: the definition is accepted and the held-back series follow in the same flush.
    await getBackend()?.flush();
    expect(await renderRedis({ url: redis.url, prefix: 'defs' })).toBe(
      [
        '# HELP http_seconds New.',
        '# TYPE http_seconds histogram',
        'http_seconds_bucket{le="10"} 0',
        'http_seconds_bucket{le="100"} 1',
        'http_seconds_bucket{le="+Inf"} 1',
        'http_seconds_sum 50',
        'http_seconds_count 1',
        '',
      ].join('\n'),
    );
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([`error ${refused}`]);
    expect(await register.metrics()).toContain('\npromsd_backend_refused_families 0\n');
    await until('the acceptance is logged', async () => lines.some((l) => l.includes('accepted')));
    expect(lines.filter((l) => l.includes('accepted'))).toEqual([
      'info promsd: metric "http_seconds" accepted by the aggregate: no live process holds the definition it differed from',
    ]);
  });

  it('takes over from a holder that died without closing once its heartbeat expired', async () => {
    const child = spawnChild({
      url: redis.url,
      prefix: 'defs3',
      processTtlMs: 400,
      metrics: [{ type: 'histogram', config: { name: 'q_seconds', help: 'Old.', buckets: [1] } }],
      steps: [{ metric: 0, method: 'observe', value: 0.5 }],
      then: 'stay',
    });
    await child.waitFor('ready');
    await until('stored', async () =>
      (await renderRedis({ url: redis.url, prefix: 'defs3' })).includes('q_seconds_count 1'),
    );
    const { lines, logger } = capture();
    loadBackend(
      new RedisBackend({ url: redis.url, prefix: 'defs3', flushIntervalMs: 60_000, processTtlMs: 120_000, logger }),
    );
    new Histogram({ name: 'q_seconds', help: 'New.', buckets: [2] }).observe(1.5);
    await getBackend()?.flush();
    await until('refused', async () => lines.some((l) => l.startsWith('error')));
    child.proc.kill('SIGKILL');
    await child.exited;
    // Still refused while the dead holder's heartbeat lasts (400 ms)...
    await getBackend()?.flush();
    expect(await renderRedis({ url: redis.url, prefix: 'defs3' })).toContain('q_seconds_bucket{le="1"} 1\n');
    await new Promise((r) => setTimeout(r, 500));
    // ...then taken over.
    await getBackend()?.flush();
    const text = await renderRedis({ url: redis.url, prefix: 'defs3' });
    expect(text).toContain('# HELP q_seconds New.\n# TYPE q_seconds histogram\nq_seconds_bucket{le="2"} 1\n');
    expect(text).toContain('q_seconds_count 1\n');
  });

  it('refuses a type or label change and keeps the other families of the process', async () => {
    const child = spawnChild({
      url: redis.url,
      prefix: 'defs2',
      metrics: [
        { type: 'counter', config: { name: 'jobs_total', help: 'Jobs.', labelNames: ['queue'] } },
        { type: 'counter', config: { name: 'kind_total', help: 'Kind.' } },
      ],
      steps: [
        { metric: 0, method: 'inc', labels: { queue: 'a' }, value: 3 },
        { metric: 1, method: 'inc', value: 1 },
      ],
      then: 'stay',
    });
    await child.waitFor('ready');
    await until('stored', async () =>
      (await renderRedis({ url: redis.url, prefix: 'defs2' })).includes('kind_total 1'),
    );
    const { lines, logger } = capture();
    loadBackend(new RedisBackend({ url: redis.url, prefix: 'defs2', flushIntervalMs: 100, logger }));
    new Counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['queue', 'host'] }).inc({ queue: 'a', host: 'h' }, 5);
    new Gauge({ name: 'kind_total', help: 'Kind.' }).set(7);
    new Counter({ name: 'fine_total', help: 'Fine.' }).inc(2);
    await getBackend()?.flush();
    // Log lines come from the flusher thread through the event loop.
    await until('both refusals logged', async () => lines.filter((l) => l.startsWith('error')).length >= 2);
    expect(lines.filter((l) => l.startsWith('error')).sort()).toEqual([
      'error promsd: metric "jobs_total" refused by the aggregate: labelNames ["queue","host"] differ from ["queue"] stored by another process',
      'error promsd: metric "kind_total" refused by the aggregate: type "gauge" differs from "counter" stored by another process',
    ]);
    const text = await renderRedis({ url: redis.url, prefix: 'defs2' });
    expect(text).toContain('fine_total 2\n');
    expect(text).toContain('jobs_total{queue="a"} 3\n');
    expect(text).toContain('# TYPE kind_total counter\nkind_total 1\n');
    // Nothing of the refused families reached Redis.
    expect(await redisCommand(redis.port, 'HKEYS', 'promsd:{defs2}:c')).not.toContain('host');
    child.send('exit');
    expect(await child.exited).toBe(0);
  });

  it('refuses on the ioredis twin too, across a batch of several script calls', async () => {
    const child = spawnChild({
      url: redis.url,
      prefix: 'defs5',
      metrics: [{ type: 'histogram', config: { name: 'wide_seconds', help: 'Old.', buckets: [1, 2] } }],
      steps: [{ metric: 0, method: 'observe', value: 1.5 }],
      then: 'stay',
    });
    await child.waitFor('ready');
    await until('the old definition is stored', async () =>
      (await renderRedis({ url: redis.url, prefix: 'defs5' })).includes('wide_seconds_count 1'),
    );
    const { lines, logger } = capture();
    loadBackend(new IoredisBackend({ url: redis.url, prefix: 'defs5', flushIntervalMs: 10_000, logger }));
    // 1,000 labelled series of 5 parts each: more than one script call (4,096 items), so the
    // refused family's items are in calls after the one whose reply refuses it.
    const h = new Histogram({ name: 'wide_seconds', help: 'New.', buckets: [10, 100], labelNames: ['i'] });
    for (let i = 0; i < 1000; i++) h.observe({ i: String(i) }, 50);
    const c = new Counter({ name: 'wide_ok_total', help: 'Accepted.' });
    c.inc(7);
    await getBackend()?.flush();
    await getBackend()?.flush();
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([
      'error promsd: metric "wide_seconds" refused by the aggregate: labelNames ["i"] differ from [] stored by another process',
    ]);
    expect(await renderRedis({ url: redis.url, prefix: 'defs5' })).toBe(
      [
        '# HELP wide_ok_total Accepted.',
        '# TYPE wide_ok_total counter',
        'wide_ok_total 7',
        '',
        '# HELP wide_seconds Old.',
        '# TYPE wide_seconds histogram',
        'wide_seconds_bucket{le="1"} 0',
        'wide_seconds_bucket{le="2"} 1',
        'wide_seconds_bucket{le="+Inf"} 1',
        'wide_seconds_sum 1.5',
        'wide_seconds_count 1',
        '',
      ].join('\n'),
    );
    child.send('exit');
    expect(await child.exited).toBe(0);
    await getBackend()?.flush();
    const text = await renderRedis({ url: redis.url, prefix: 'defs5' });
    expect(text).toContain('wide_seconds_bucket{le="100",i="999"} 1\n');
    expect(text).toContain('wide_seconds_count{i="0"} 1\n');
    expect(text).not.toContain('le="2"');
    expect(text.split('\n').filter((l) => l.startsWith('wide_seconds_count')).length).toBe(1000);
    expect(lines.filter((l) => l.includes('accepted'))).toEqual([
      'info promsd: metric "wide_seconds" accepted by the aggregate: no live process holds the definition it differed from',
    ]);
  });

  it('refuses on the embedded one-host aggregator too (the model runs the same rule)', async () => {
    const { logger } = capture();
    loadBackend(new EmbeddedBackend({ role: 'primary', prefix: 'defs4', flushIntervalMs: 50, logger }));
    new Histogram({ name: 'e_seconds', help: 'Primary.', buckets: [1, 2] }).observe(1.5);
    await getBackend()?.flush();
    const child = spawnChild({
      backend: 'embedded',
      prefix: 'defs4',
      flushIntervalMs: 50,
      metrics: [{ type: 'histogram', config: { name: 'e_seconds', help: 'Worker.', buckets: [10, 100] } }],
      steps: [{ metric: 0, method: 'observe', value: 50 }],
    });
    // The worker flushes until close() succeeds: a refusal is not a failure.
    expect(await child.exited).toBe(0);
    const text = await register.metrics();
    expect(text).toContain('# HELP e_seconds Primary.\n');
    expect(text).toContain(
      'e_seconds_bucket{le="1"} 0\ne_seconds_bucket{le="2"} 1\ne_seconds_bucket{le="+Inf"} 1\ne_seconds_sum 1.5\ne_seconds_count 1\n',
    );
  });
});
