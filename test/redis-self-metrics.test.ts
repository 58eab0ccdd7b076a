import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Counter, EmbeddedBackend, IoredisBackend, RedisBackend, loadBackend, register } from '../index';
import { getBackend } from '../backend/load';
import { get } from './helpers/http';
import { type RedisServer, freePort, startRedis, until } from './helpers/redis';

// The backend's own metrics (opt-in): this process's flushes to the aggregate, exposed in its
// scrapes — also while Redis is down, which is when they matter.

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.kill();
});
afterEach(async () => {
  await getBackend()
    ?.close({ timeoutMs: 1000 })
    .catch(() => undefined);
  register.clear();
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const CAUSES = ['dns', 'auth', 'tls', 'timeout', 'refused', 'closed', 'config', 'server', 'other'];

/** The self-metrics block of a scrape, flush durations reduced to their count (they vary). */
function selfMetrics(text: string): string {
  return text
    .split('\n')
    .filter((l) => l.includes('promsd_backend_') && !/^promsd_backend_flush_duration_seconds_(bucket|sum)/.test(l))
    .join('\n');
}

function expected(o: { flushes: number; errors: Record<string, number>; up: number; series: number }): string {
  return [
    '# HELP promsd_backend_flush_duration_seconds Time one flush of this process to the aggregate took, failed ones included.',
    '# TYPE promsd_backend_flush_duration_seconds histogram',
    `promsd_backend_flush_duration_seconds_count ${o.flushes}`,
    '# HELP promsd_backend_flush_errors_total Flushes of this process to the aggregate that failed, by cause.',
    '# TYPE promsd_backend_flush_errors_total counter',
    ...CAUSES.map((c) => `promsd_backend_flush_errors_total{cause="${c}"} ${o.errors[c] ?? 0}`),
    '# HELP promsd_backend_refused_families Metric families of this process the aggregate refuses: their definition differs from one a live process holds.',
    '# TYPE promsd_backend_refused_families gauge',
    'promsd_backend_refused_families 0',
    '# HELP promsd_backend_series Series this process sends to the aggregate.',
    '# TYPE promsd_backend_series gauge',
    `promsd_backend_series ${o.series}`,
    '# HELP promsd_backend_up 1 when the last flush of this process to the aggregate succeeded, else 0.',
    '# TYPE promsd_backend_up gauge',
    `promsd_backend_up ${o.up}`,
  ].join('\n');
}

describe('self-metrics', () => {
  it('are absent unless asked for', async () => {
    loadBackend(
      new RedisBackend({
        url: redis.url,
        prefix: 'self0',
        flushIntervalMs: 60_000,
        processTtlMs: 120_000,
        logger: quiet,
      }),
    );
    new Counter({ name: 'plain_total', help: 'Plain.' }).inc();
    expect(await register.metrics()).toBe('# HELP plain_total Plain.\n# TYPE plain_total counter\nplain_total 1\n');
  });

  it.each([
    ['RedisBackend', RedisBackend, 'self1'],
    ['IoredisBackend', IoredisBackend, 'self1i'],
  ] as const)(
    '%s: count flushes, errors by cause, series and up, and still answer while Redis is down',
    async (_, Backend, prefix) => {
      const backend = loadBackend(
        new Backend({
          url: redis.url,
          prefix,
          flushIntervalMs: 60_000,
          processTtlMs: 120_000,
          timeoutMs: 500,
          selfMetrics: true,
          logger: quiet,
        }),
      );
      const c = new Counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['q'] });
      c.inc({ q: 'a' });
      c.inc({ q: 'b' }, 2);
      await backend.flush();
      await backend.flush();
      // The scrape flushes once more before it reads.
      const text = await register.metrics();
      expect(text).toContain('jobs_total{q="a"} 1\njobs_total{q="b"} 2\n');
      expect(selfMetrics(text)).toBe(expected({ flushes: 3, errors: {}, up: 1, series: 2 }));
      expect(text).toContain(
        '# TYPE promsd_backend_flush_duration_seconds histogram\npromsd_backend_flush_duration_seconds_bucket{le="0.001"} ',
      );
      expect(text).toContain('promsd_backend_flush_duration_seconds_bucket{le="+Inf"} 3\n');

      await redis.kill();
      const down = await register.metrics();
      expect(down).not.toContain('jobs_total');
      const firstCause = /promsd_backend_flush_errors_total\{cause="(\w+)"\} 1/.exec(down)?.[1];
      // The open connection breaks (closed) or the reconnect is refused, depending on timing.
      expect(['closed', 'refused']).toContain(firstCause);
      expect(selfMetrics(down)).toBe(expected({ flushes: 4, errors: { [firstCause as string]: 1 }, up: 0, series: 2 }));
      const again = await register.metrics();
      // Again closed or refused (the twin's ioredis may see the closed connection once more).
      const count = (cause: string) =>
        Number(new RegExp(`promsd_backend_flush_errors_total\\{cause="${cause}"\\} (\\d+)`).exec(again)?.[1]);
      const errors = { closed: count('closed'), refused: count('refused') };
      expect(errors.closed + errors.refused).toBe(2);
      expect(errors[firstCause as 'closed' | 'refused']).toBeGreaterThanOrEqual(1);
      expect(selfMetrics(again)).toBe(expected({ flushes: 5, errors, up: 0, series: 2 }));

      await redis.start();
      const back = await register.metrics();
      expect(back).toContain('jobs_total{q="a"} 1\n');
      expect(selfMetrics(back)).toBe(expected({ flushes: 6, errors, up: 1, series: 2 }));
    },
  );

  it('are exposed by the embedded one-host backend too', async () => {
    const backend = loadBackend(
      new EmbeddedBackend({
        role: 'primary',
        socketPath: join(tmpdir(), `promsd-self-${process.pid}.sock`),
        prefix: 'self3',
        flushIntervalMs: 60_000,
        processTtlMs: 120_000,
        selfMetrics: true,
        logger: quiet,
      }),
    );
    new Counter({ name: 'one_total', help: 'One.' }).inc();
    await backend.flush();
    expect(selfMetrics(await register.metrics())).toBe(expected({ flushes: 2, errors: {}, up: 1, series: 1 }));
  });

  it('are served by the sidecar (promsd serve) with backend.selfMetrics', async () => {
    const port = await freePort();
    const cli = join(__dirname, '..', 'dist', 'cli', 'main.js');
    const serve = spawn(process.execPath, [cli, 'serve', '--port', String(port), '--addr', '127.0.0.1'], {
      env: {
        PATH: process.env.PATH,
        PROMSD_REDIS_URL: redis.url,
        PROMSD_PREFIX: 'self2',
        PROMSD_SELF_METRICS: 'true',
        PROMSD_LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    try {
      await until(
        'the sidecar answers',
        async () => (await get(`http://127.0.0.1:${port}/healthz`).catch(() => ({ status: 0 }))).status === 200,
      );
      const body = (await get(`http://127.0.0.1:${port}/metrics`)).body.toString();
      expect(body).toContain('promsd_backend_up 1\n');
      expect(body).toContain('promsd_backend_series 0\n');
      expect(body).toContain('promsd_backend_flush_errors_total{cause="auth"} 0\n');
    } finally {
      serve.kill('SIGTERM');
    }
  });
});
