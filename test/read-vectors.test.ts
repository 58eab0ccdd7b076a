import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { native } from '../metrics/native';
import { readThrough } from './helpers/reader';
import { type RedisServer, startRedis } from './helpers/redis';

// The read side of the shared protocol vectors (test/fixtures/read-vectors.json): stored hashes
// and the exposition every reader must render from them. Here on a real redis-server, through
// both read protocols (v1 read.lua, v2 live.lua + HGETALLs) and both transports (redis-rs and
// ioredis); the embedded model runs the same file in Rust (native/src/backend/model.rs tests).

interface Stored {
  meta: Record<string, string>;
  c: Record<string, string>;
  procs: Record<string, { live: boolean; g: Record<string, string> }>;
}
interface ReadVector {
  name: string;
  stored: Stored;
  expect: { live: string[]; text: string; openMetrics: string; protobufBase64: string };
}

const vectors = (
  JSON.parse(readFileSync(join(__dirname, 'fixtures', 'read-vectors.json'), 'utf8')) as { read: ReadVector[] }
).read;

/** Heartbeat expiries of a live and a dead process (server ms; the year 2286 and 1970). */
const LIVE = 9_999_999_999_999;
const DEAD = 1;

let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client.disconnect();
  await redis.kill();
});

async function store(prefix: string, s: Stored): Promise<void> {
  const p = `promsd:{${prefix}}:`;
  const m = client.multi();
  for (const [k, v] of Object.entries(s.meta)) m.hset(`${p}meta`, k, v);
  for (const [k, v] of Object.entries(s.c)) m.hset(`${p}c`, k, v);
  for (const [id, proc] of Object.entries(s.procs)) {
    m.zadd(`${p}procs`, proc.live ? LIVE : DEAD, id);
    for (const [k, v] of Object.entries(proc.g)) m.hset(`${p}g:${id}`, k, v);
  }
  await m.exec();
}

describe('read vectors on redis-server', () => {
  vectors.forEach((v, i) => {
    it(`${v.name}: every reader renders the expected bytes`, async () => {
      const prefix = `rv${i}`;
      await store(prefix, v.stored);
      const live = (await client.eval(
        readFileSync(join(__dirname, '..', 'native', 'src', 'backend', 'live.lua'), 'utf8'),
        1,
        `promsd:{${prefix}}:procs`,
      )) as unknown[];
      expect(live.slice(1).sort()).toEqual(v.expect.live);
      const defaults = ['env', 'prod'];
      for (const protocol of [1, 2] as const) {
        const rs = await native.redisRender({
          urls: [redis.url],
          cluster: false,
          prefix,
          timeoutMs: 5000,
          openMetrics: false,
          defaultLabels: [],
          protocol,
        });
        expect(rs, `redis-rs, protocol ${protocol}`).toBe(v.expect.text);
        expect((await readThrough(client, prefix, protocol)).toString(), `ioredis, protocol ${protocol}`).toBe(
          v.expect.text,
        );
        const om = await readThrough(client, prefix, protocol, { openMetrics: true, defaultLabels: defaults });
        expect(om.toString()).toBe(v.expect.openMetrics);
        const pb = await readThrough(client, prefix, protocol, { protobuf: true, defaultLabels: defaults });
        expect(pb.toString('base64')).toBe(v.expect.protobufBase64);
      }
    });
  });

  it('the file covers every metric type and every gauge aggregator', () => {
    const metas = vectors.flatMap((v) => Object.values(v.stored.meta).map((j) => JSON.parse(j)));
    expect(new Set(metas.map((m) => m.type))).toEqual(new Set(['counter', 'gauge', 'histogram', 'summary']));
    expect(new Set(metas.filter((m) => m.type === 'gauge').map((m) => m.aggregator))).toEqual(
      new Set(['sum', 'min', 'max', 'average', 'last', 'first', 'omit', 'perProcess']),
    );
    expect(metas.some((m) => m.native !== undefined)).toBe(true);
  });
});
