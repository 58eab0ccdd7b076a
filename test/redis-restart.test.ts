import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderRedis } from '../index';
import { type RedisServer, redisCommand, spawnChild, startRedis, until } from './helpers/redis';

// Exactly-once under faults: totals equal the sum of all increments, whatever happened to Redis.

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.kill();
});

const COUNTER = { type: 'counter', config: { name: 'restart_ops_total', help: 'Ops.', labelNames: ['kind'] } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function total(prefix: string): Promise<number> {
  const text = await renderRedis({ url: redis.url, prefix });
  const m = /restart_ops_total\{kind="w"\} (\S+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('Redis backend under faults', () => {
  it('loses and doubles nothing when redis-server is killed and restarted empty mid-increments', async () => {
    const sustain = { metric: 0, labels: { kind: 'w' }, total: 7 * 500, perTick: 7, everyMs: 4 };
    const children = [0, 1, 2, 3].map(() =>
      spawnChild({ url: redis.url, prefix: 'restart', metrics: [COUNTER], sustain, flushIntervalMs: 50 }),
    );
    await Promise.all(children.map((c) => c.waitFor('ready')));
    await until('some increments in Redis', async () => (await total('restart')) > 0);
    await redis.kill();
    await sleep(700);
    await redis.start(); // empty: no persistence
    const done = await Promise.all(children.map((c) => c.waitFor('done')));
    expect(done.every((d) => d.sent === 3500)).toBe(true);
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0, 0, 0]);
    expect(await total('restart')).toBe(4 * 3500);
  });

  it('re-seeds a process whose bookkeeping expired without counting it twice', async () => {
    const child = spawnChild({
      url: redis.url,
      prefix: 'lost',
      metrics: [COUNTER],
      steps: [{ metric: 0, method: 'inc', labels: { kind: 'w' }, times: 40 }],
      sustain: { metric: 0, labels: { kind: 'w' }, total: 60, perTick: 1, everyMs: 10 },
      flushIntervalMs: 30,
    });
    const { id } = await child.waitFor('ready');
    await until('first flush', async () => (await total('lost')) >= 40);
    // What a long partition does: the per-process records expire, the totals stay.
    expect(await redisCommand(redis.port, 'DEL', `promsd:{lost}:a:${String(id)}`)).toBe(':1\r\n');
    expect(await child.exited).toBe(0);
    expect(await total('lost')).toBe(100);
  });
});
