import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Gauge, RedisBackend, loadBackend, register, renderRedis } from '../index';
import { getBackend } from '../backend/load';
import { type RedisServer, spawnChild, startRedis, until, type Child } from './helpers/redis';

// Gauges combine per aggregator over live processes only; a killed process's gauges drop out
// once its heartbeat expires, while its counter contributions stay.

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.kill();
});

const AGGREGATORS = ['sum', 'max', 'min', 'average', 'last', 'first', 'omit', 'perProcess'] as const;

function plan(i: number, value: number): Record<string, unknown> {
  return {
    url: redis.url,
    prefix: 'gauges',
    processTtlMs: 600,
    flushIntervalMs: 50,
    processLabel: `p${i}`,
    then: 'stay',
    metrics: [
      ...AGGREGATORS.map((a) => ({ type: 'gauge', config: { name: `g_${a}`, help: `${a}.`, aggregator: a } })),
      { type: 'counter', config: { name: 'g_work_total', help: 'Work.' } },
      { type: 'gauge', config: { name: 'g_only_one', help: 'Only in p0.', labelNames: ['k'], aggregator: 'omit' } },
    ],
    steps: [
      ...AGGREGATORS.map((_, m) => ({ metric: m, method: 'set', value })),
      { metric: AGGREGATORS.length, method: 'inc', value },
      ...(i === 0 ? [{ metric: AGGREGATORS.length + 1, method: 'set', labels: { k: 'v' }, value: 42 }] : []),
    ],
  };
}

function values(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('g_')) {
      const i = line.lastIndexOf(' ');
      out[line.slice(0, i)] = Number(line.slice(i + 1));
    }
  }
  return out;
}

describe('gauge aggregation across processes', () => {
  it('applies every aggregator to live processes and forgets a SIGKILLed one after its TTL', async () => {
    const children: Child[] = [];
    // Started one after the other so that "first" and "last" are well defined.
    for (const [i, v] of [3, 10, 5].entries()) {
      const c = spawnChild(plan(i, v));
      await c.waitFor('ready');
      const text = async () => values(await renderRedis({ url: redis.url, prefix: 'gauges' }));
      await until(`process ${i} visible`, async () => (await text())[`g_perProcess{process="p${i}"}`] === v);
      children.push(c);
    }
    const all = values(await renderRedis({ url: redis.url, prefix: 'gauges' }));
    expect(all).toEqual({
      g_sum: 18,
      g_max: 10,
      g_min: 3,
      g_average: 6,
      g_last: 5,
      g_first: 3,
      'g_perProcess{process="p0"}': 3,
      'g_perProcess{process="p1"}': 10,
      'g_perProcess{process="p2"}': 5,
      'g_only_one{k="v"}': 42,
      g_work_total: 18,
    });

    children[1].proc.kill('SIGKILL');
    await children[1].exited;
    // Until the TTL runs out the dead process still counts; then its gauges are gone.
    await until(
      'p1 expired',
      async () => !('g_perProcess{process="p1"}' in values(await renderRedis({ url: redis.url, prefix: 'gauges' }))),
    );
    expect(values(await renderRedis({ url: redis.url, prefix: 'gauges' }))).toEqual({
      g_sum: 8,
      g_max: 5,
      g_min: 3,
      g_average: 4,
      g_last: 5,
      g_first: 3,
      'g_perProcess{process="p0"}': 3,
      'g_perProcess{process="p2"}': 5,
      'g_only_one{k="v"}': 42,
      g_work_total: 18,
    });

    // A process that closes removes its gauges at once.
    children[0].send('exit');
    expect(await children[0].exited).toBe(0);
    const after = values(await renderRedis({ url: redis.url, prefix: 'gauges' }));
    expect(after.g_sum).toBe(5);
    expect(after.g_omit).toBe(5);
    expect('g_only_one{k="v"}' in after).toBe(false);
    children[2].send('exit');
    expect(await children[2].exited).toBe(0);
  });

  it("max and min over a NaN give NaN, as prom-client's Math.max/Math.min do (not -Inf/+Inf)", async () => {
    loadBackend(new RedisBackend({ url: redis.url, prefix: 'gauges-nan', flushIntervalMs: 10_000 }));
    try {
      new Gauge({ name: 'n_max', help: 'Max.', aggregator: 'max' }).set(Number.NaN);
      new Gauge({ name: 'n_min', help: 'Min.', aggregator: 'min' }).set(Number.NaN);
      await getBackend()?.flush();
      expect(await renderRedis({ url: redis.url, prefix: 'gauges-nan' })).toBe(
        '# HELP n_max Max.\n# TYPE n_max gauge\nn_max NaN\n\n# HELP n_min Min.\n# TYPE n_min gauge\nn_min NaN\n',
      );
    } finally {
      await getBackend()?.close();
      register.clear();
    }
  });
});
