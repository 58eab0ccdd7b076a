import { describe, expect, it } from 'vitest';
import {
  type Backend,
  Counter,
  EmbeddedBackend,
  Gauge,
  Histogram,
  IoredisBackend,
  loadBackend,
  RedisBackend,
  register,
  renderRedis,
} from '../index';
import { redisCommand, useRedisForFile, quiet } from './helpers/redis';

// A series that has only ever been zero — `inc(0)`, an unlabelled counter nobody incremented,
// `zero()` — is part of the exposition locally (as in prom-client, where `inc(0)` is the usual way to
// make a series exist before its first event). Through every backend the aggregate shows it too,
// byte for byte what the process's own store shows, and an increment afterwards adds to it.

const redis = useRedisForFile();

function zeroSeries() {
  const requests = new Counter({ name: 'zs_requests_total', help: 'R.', labelNames: ['code'] });
  requests.inc({ code: '500' }, 0);
  requests.inc({ code: '200' }, 2);
  const started = new Counter({ name: 'zs_started_total', help: 'S.' });
  const latency = new Histogram({ name: 'zs_latency_seconds', help: 'L.', labelNames: ['route'], buckets: [0.1, 1] });
  latency.zero({ route: '/a' });
  const idle = new Histogram({ name: 'zs_idle_seconds', help: 'I.', buckets: [1] });
  const depth = new Gauge({ name: 'zs_depth', help: 'D.' });
  return { requests, started, latency, idle, depth };
}

const LOCAL = [
  '# HELP zs_requests_total R.',
  '# TYPE zs_requests_total counter',
  'zs_requests_total{code="500"} 0',
  'zs_requests_total{code="200"} 2',
  '',
  '# HELP zs_started_total S.',
  '# TYPE zs_started_total counter',
  'zs_started_total 0',
  '',
  '# HELP zs_latency_seconds L.',
  '# TYPE zs_latency_seconds histogram',
  'zs_latency_seconds_bucket{le="0.1",route="/a"} 0',
  'zs_latency_seconds_bucket{le="1",route="/a"} 0',
  'zs_latency_seconds_bucket{le="+Inf",route="/a"} 0',
  'zs_latency_seconds_sum{route="/a"} 0',
  'zs_latency_seconds_count{route="/a"} 0',
  '',
  '# HELP zs_idle_seconds I.',
  '# TYPE zs_idle_seconds histogram',
  'zs_idle_seconds_bucket{le="1"} 0',
  'zs_idle_seconds_bucket{le="+Inf"} 0',
  'zs_idle_seconds_sum 0',
  'zs_idle_seconds_count 0',
  '',
  '# HELP zs_depth D.',
  '# TYPE zs_depth gauge',
  'zs_depth 0',
  '',
].join('\n');

/** The aggregate's families in name order, series in label order (how the backends render). */
function sorted(text: string): string {
  const blocks = text.trim().split('\n\n');
  const key = (b: string) => b.split('\n')[0];
  return blocks
    .map((b) => {
      const lines = b.split('\n');
      const head = lines.filter((l) => l.startsWith('#'));
      return [...head, ...lines.filter((l) => !l.startsWith('#')).sort()].join('\n');
    })
    .sort((a, b) => (key(a) < key(b) ? -1 : 1))
    .join('\n\n');
}

const backends: [string, (prefix: string) => Backend][] = [
  ['EmbeddedBackend', (prefix) => new EmbeddedBackend({ prefix, flushIntervalMs: 50, logger: quiet })],
  ['RedisBackend', (prefix) => new RedisBackend({ url: redis.url, prefix, flushIntervalMs: 50, logger: quiet })],
  ['IoredisBackend', (prefix) => new IoredisBackend({ url: redis.url, prefix, flushIntervalMs: 50, logger: quiet })],
];

describe('a series that has only ever been zero', () => {
  it('is in the local exposition (the reference the backends are held to)', async () => {
    zeroSeries();
    expect(await register.metrics()).toBe(LOCAL);
  });

  for (const [name, make] of backends) {
    it(`is in the aggregate through ${name}, as locally, and adds up once incremented`, async () => {
      const prefix = `zs-${name}-${process.pid}`;
      const m = zeroSeries();
      const local = await register.metrics();
      loadBackend(make(prefix));
      expect(sorted(await register.metrics())).toBe(sorted(local));
      m.requests.inc({ code: '500' }, 3);
      m.started.inc();
      m.latency.observe({ route: '/a' }, 0.5);
      const after = await register.metrics();
      expect(after).toContain('zs_requests_total{code="500"} 3\n');
      expect(after).toContain('zs_started_total 1\n');
      expect(after).toContain('zs_latency_seconds_bucket{le="0.1",route="/a"} 0\n');
      expect(after).toContain('zs_latency_seconds_bucket{le="1",route="/a"} 1\n');
      expect(after).toContain('zs_latency_seconds_count{route="/a"} 1\n');
    });
  }

  it('is stored once as 0 in Redis (its value or its sum; zero buckets stay absent), and read so by the sidecar', async () => {
    const prefix = `zs-stored-${process.pid}`;
    zeroSeries();
    const backend = new RedisBackend({ url: redis.url, prefix, flushIntervalMs: 50, logger: quiet });
    loadBackend(backend);
    await register.metrics();
    const fields = await redisCommand(redis.port, 'HGETALL', `promsd:{${prefix}}:c`);
    expect(
      fields
        .split('\r\n')
        .filter((l) => l !== '' && !/^[*$]/.test(l))
        .sort(),
    ).toEqual(
      [
        'zs_requests_total||500',
        '0',
        'zs_requests_total||200',
        '2',
        'zs_started_total||',
        '0',
        'zs_latency_seconds|sum|/a',
        '0',
        'zs_idle_seconds|sum|',
        '0',
      ].sort(),
    );
    const sidecar = await renderRedis({ url: redis.url, prefix });
    expect(sidecar).toContain('zs_requests_total{code="500"} 0\n');
    expect(sidecar).toContain('zs_started_total 0\n');
    expect(sidecar).toContain('zs_idle_seconds_count 0\n');
  });
});
