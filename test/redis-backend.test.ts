import { describe, expect, it } from 'vitest';

import {
  BackendConfigError,
  BackendLoadedError,
  Counter,
  Gauge,
  RedisBackend,
  loadBackend,
  register,
  renderRedis,
} from '../index';
import { getBackend } from '../backend/load';
import { RedisServer, freePort, spawnChild, until, useRedisForFile, quiet } from './helpers/redis';

// The backend inside this (test) process: the global registry renders the Redis aggregate,
// options are checked, errors are logged without storms, close() releases everything.

const redis = useRedisForFile();

describe('RedisBackend in this process', () => {
  it('renders the aggregate of every process from register.metrics(), for metrics created before and after loading', async () => {
    const before = new Counter({ name: 'inproc_before_total', help: 'Before.' });
    before.inc(2);
    const backend = loadBackend(new RedisBackend({ url: redis.url, prefix: 'inproc', logger: quiet }));
    const after = new Gauge({ name: 'inproc_after', help: 'After.' });
    after.set(4);
    const child = spawnChild({
      url: redis.url,
      prefix: 'inproc',
      metrics: [
        { type: 'counter', config: { name: 'inproc_before_total', help: 'Before.' } },
        { type: 'gauge', config: { name: 'inproc_after', help: 'After.' } },
      ],
      steps: [
        { metric: 0, method: 'inc', value: 5 },
        { metric: 1, method: 'set', value: 1 },
      ],
      then: 'stay',
    });
    await child.waitFor('ready');
    await until('child flushed', async () => (await register.metrics()).includes('inproc_before_total 7'));
    expect(await register.metrics()).toBe(
      '# HELP inproc_after After.\n# TYPE inproc_after gauge\ninproc_after 5\n\n' +
        '# HELP inproc_before_total Before.\n# TYPE inproc_before_total counter\ninproc_before_total 7\n',
    );
    expect(backend.processId).toMatch(/^[0-9a-f]{32}$/);
    child.send('exit');
    expect(await child.exited).toBe(0);
  });

  it('lets a process with no metrics render the full exposition', async () => {
    const child = spawnChild({
      url: redis.url,
      prefix: 'sidecar',
      metrics: [
        { type: 'histogram', config: { name: 'side_seconds', help: 'Side.', labelNames: ['op'], buckets: [1] } },
      ],
      steps: [{ metric: 0, method: 'observe', labels: { op: 'r"w' }, value: 0.5 }],
    });
    expect(await child.exited).toBe(0);
    loadBackend(new RedisBackend({ url: redis.url, prefix: 'sidecar', logger: quiet }));
    register.setDefaultLabels({ host: 'h1' });
    expect(await register.metrics()).toBe(
      [
        '# HELP side_seconds Side.',
        '# TYPE side_seconds histogram',
        'side_seconds_bucket{le="1",host="h1",op="r\\"w"} 1',
        'side_seconds_bucket{le="+Inf",host="h1",op="r\\"w"} 1',
        'side_seconds_sum{host="h1",op="r\\"w"} 0.5',
        'side_seconds_count{host="h1",op="r\\"w"} 1',
        '',
      ].join('\n'),
    );
  });

  it('sends the last increments of a process that ends without close()', async () => {
    const child = spawnChild({
      url: redis.url,
      prefix: 'atexit',
      flushIntervalMs: 60_000,
      processTtlMs: 120_000,
      metrics: [{ type: 'counter', config: { name: 'exit_total', help: 'E.' } }],
      steps: [{ metric: 0, method: 'inc', times: 9 }],
      then: 'end',
    });
    expect(await child.exited).toBe(0);
    expect(await renderRedis({ url: redis.url, prefix: 'atexit' })).toContain('exit_total 9\n');
  });

  it('logs a Redis outage as a handful of lines, not one per flush', async () => {
    const port = await freePort();
    const down = new RedisServer(port);
    const lines: string[] = [];
    const log = (level: string) => (m: string) => lines.push(`${level} ${m}`);
    const backend = loadBackend(
      new RedisBackend({
        url: down.url,
        prefix: 'storm',
        flushIntervalMs: 20,
        timeoutMs: 100,
        logThrottleMs: 1000,
        logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
      }),
    );
    const c = new Counter({ name: 'storm_total', help: 'S.' });
    c.inc(3);
    await new Promise((r) => setTimeout(r, 3500)); // ~170 failed flushes
    await expect(backend.flush()).rejects.toThrow(/cannot connect to Redis/);
    const errors = lines.filter((l) => l.startsWith('error'));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThanOrEqual(2);
    expect(
      lines.some((l) => /^warn suppressed \d+ similar errors in the last 1s: promsd: cannot connect/.test(l)),
    ).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(6);
    c.inc(4); // nothing is dropped while Redis is down
    await down.start();
    try {
      await until('reconnected', () => lines.some((l) => l.includes('connected to Redis')));
      await backend.flush();
      expect(await renderRedis({ url: down.url, prefix: 'storm' })).toContain('storm_total 7\n');
    } finally {
      await backend.close();
      await down.kill();
    }
  });

  it('refuses bad options with messages naming them', () => {
    expect(() => new RedisBackend({ url: 'http://x' })).toThrow(
      new BackendConfigError('RedisBackend: url must be a redis://, rediss:// or redis+unix:// URL, got "http://x"'),
    );
    expect(() => new RedisBackend({ prefix: 'a{b}' })).toThrow(
      'RedisBackend: prefix must match [A-Za-z0-9_.:-]{1,64}, got "a{b}"',
    );
    expect(() => new RedisBackend({ flushIntervalMs: 0 })).toThrow(
      'RedisBackend: flushIntervalMs must be an integer from 10 to 2147483647 (ms), got 0',
    );
    expect(() => new RedisBackend({ flushIntervalMs: 2000, processTtlMs: 1000 })).toThrow(
      /processTtlMs \(1000\) must be longer than flushIntervalMs \(2000\)/,
    );
    expect(() => new RedisBackend({ url: ['redis://a:1', 'redis://b:1'] })).toThrow(/several urls need cluster: true/);
    expect(() => new RedisBackend({ logger: { info() {} } as never })).toThrow(
      /logger must have debug, info, warn and error methods \(missing debug\)/,
    );
    expect(() => new RedisBackend({ processLabel: '' })).toThrow(
      'RedisBackend: processLabel must be a non-empty string, got ""',
    );
  });

  it('allows one backend per process and closes idempotently', async () => {
    const a = loadBackend(new RedisBackend({ url: redis.url, prefix: 'one', logger: quiet }));
    expect(() => loadBackend(new RedisBackend({ url: redis.url, prefix: 'two' }))).toThrow(BackendLoadedError);
    await a.close();
    await a.close();
    expect(getBackend()).toBeUndefined();
    await expect(a.flush()).rejects.toThrow(/flush\(\) needs a loaded, open backend/);
    expect(() => loadBackend(a)).toThrow(/a closed backend cannot be loaded again/);
    const b = loadBackend(new RedisBackend({ url: redis.url, prefix: 'two', logger: quiet }));
    await b.close();
  });
});
