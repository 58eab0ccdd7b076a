import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  Counter,
  Gauge,
  Histogram,
  IoredisBackend,
  PROTOBUF_CONTENT_TYPE,
  RedisBackend,
  Summary,
  loadBackend,
  register,
  renderRedis,
} from '../index';
import { getBackend } from '../backend/load';
import { native } from '../metrics/native';
import { decodeFamilies } from './helpers/protoc';
import { readThrough } from './helpers/reader';
import { type RedisServer, startRedis } from './helpers/redis';

// Protocol v2 (docs/REDIS-PROTOCOL.md §8, §10) against v1 on a real redis-server: a v2 read
// renders exactly what a v1 read renders, and a process running v1's apply script (it stamps
// every gauge) shares a prefix with v2 processes (they stamp only `last` gauges), read by
// either reader.

const APPLY_V1 = readFileSync(join(__dirname, 'fixtures', 'apply-v1.lua'), 'utf8');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

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
afterEach(async () => {
  await getBackend()?.close();
  register.clear();
});

const v1Render = (prefix: string, openMetrics = false) =>
  native.redisRender({
    urls: [redis.url],
    cluster: false,
    prefix,
    timeoutMs: 5000,
    openMetrics,
    defaultLabels: [],
    protocol: 1,
  });

/** A second process of this registry's values that runs protocol v1's apply script. */
async function v1Process(prefix: string): Promise<string> {
  const w = new native.ProtocolWriter({
    prefix,
    processLabel: 'old:1',
    host: 'old',
    lib: 'promsd 0.0 (protocol v1)',
    liveMs: 60_000,
    retainMs: 60_000,
  });
  for (let round = 0; round < 3; round++) {
    w.update();
    const replies: unknown[] = [];
    for (const [, ...rest] of w.batch()) replies.push(await client.call('EVAL', APPLY_V1, ...rest));
    if (w.onReplies(replies).next !== 'again') break;
  }
  return w.processId;
}

function metrics() {
  const c = new Counter({ name: 'c_total', help: 'C.', labelNames: ['k'] });
  const gSum = new Gauge({ name: 'g_sum', help: 'Sum.', aggregator: 'sum' });
  const gLast = new Gauge({ name: 'g_last', help: 'Last.', aggregator: 'last' });
  const gMin = new Gauge({ name: 'g_min', help: 'Min.', aggregator: 'min' });
  const gMax = new Gauge({ name: 'g_max', help: 'Max.', aggregator: 'max' });
  const h = new Histogram({ name: 'h_seconds', help: 'H.', buckets: [1, 10] });
  const s = new Summary({ name: 's_seconds', help: 'S.', percentiles: [0.5, 0.9] });
  const sw = new Summary({ name: 'sw_seconds', help: 'SW.', percentiles: [0.5], maxAgeSeconds: 60, ageBuckets: 2 });
  const nh = new Histogram({ name: 'nh_seconds', help: 'N.', buckets: [], nativeHistogramBucketFactor: 2 });
  return { c, gSum, gLast, gMin, gMax, h, s, sw, nh };
}

describe('protocol v2 reads', () => {
  it('render exactly what v1 reads render, for every metric type, in text, OpenMetrics and protobuf', async () => {
    const backend = loadBackend(new RedisBackend({ url: redis.url, prefix: 'same', logger: quiet }));
    const m = metrics();
    m.c.inc({ k: 'a' }, 3);
    m.c.inc({ k: 'b"\n' }, 0.5);
    m.gSum.set(2);
    m.gLast.set(-1);
    m.gMin.set(4);
    m.gMax.set(7);
    for (const v of [0.5, 3, 30, 0.75]) m.h.observe(v);
    for (const v of [1, 2, 3, 100]) m.s.observe(v);
    m.sw.observe(7);
    for (const v of [0.25, 1, 3, -8, 0]) m.nh.observe(v);
    await backend.flush();
    const v2 = await renderRedis({ url: redis.url, prefix: 'same' });
    expect(await v1Render('same')).toBe(v2);
    expect(await v1Render('same', true)).toBe(await renderRedis({ url: redis.url, prefix: 'same', openMetrics: true }));
    const pb1 = await readThrough(client, 'same', 1, { protobuf: true });
    const pb2 = await readThrough(client, 'same', 2, { protobuf: true });
    expect(pb2.equals(pb1)).toBe(true);
    expect(v2).toContain('c_total{k="a"} 3\nc_total{k="b\\"\\n"} 0.5\n');
    expect(v2).toContain('g_sum 2\n');
    expect(v2).toContain('g_last -1\n');
    expect(v2).toContain('g_max 7\n');
    expect(v2).toContain('h_seconds_bucket{le="1"} 2\nh_seconds_bucket{le="10"} 3\nh_seconds_bucket{le="+Inf"} 4\n');
    expect(v2).toContain('s_seconds_sum 106\ns_seconds_count 4\n');
    expect(v2).toContain('sw_seconds_count 1\n');
    expect(v2).toContain('nh_seconds_count 5\n');
  });

  it('a v1 process and a v2 process share a prefix: stamps only where v2 needs them, one aggregate for both readers', async () => {
    const backend = loadBackend(new RedisBackend({ url: redis.url, prefix: 'mixed', logger: quiet }));
    const m = metrics();
    m.c.inc({ k: 'a' }, 5);
    m.gSum.set(2);
    m.gLast.set(10);
    m.gMin.set(4);
    m.gMax.set(4);
    m.h.observe(3);
    m.s.observe(1);
    m.sw.observe(2);
    m.nh.observe(1);
    const old = await v1Process('mixed');
    // The v2 process (this one's RedisBackend) writes later (server ms differ), with other values.
    await new Promise((r) => setTimeout(r, 5));
    m.gSum.set(3);
    m.gLast.set(20);
    m.gMin.set(1);
    m.gMax.set(1);
    await backend.flush();
    const id = backend.processId as string;
    const g = (who: string) => client.hgetall(`promsd:{mixed}:g:${who}`);
    const mine = await g(id);
    const theirs = await g(old);
    // v2 stamps only the `last` gauge; v1 stamps every gauge-like value.
    expect(mine['g_sum||']).toBe('3');
    expect(mine['g_min||']).toBe('1');
    expect(mine['g_last||']).toMatch(/^20 \d{13}$/);
    // Windowed summary bins are gauge-like too (summed): no stamp.
    expect(Object.entries(mine).filter(([f]) => f.startsWith('sw_seconds|'))).toEqual([['sw_seconds|p35|', '1']]);
    expect(theirs['g_sum||']).toMatch(/^2 \d{13}$/);
    expect(theirs['g_last||']).toMatch(/^10 \d{13}$/);
    const v2 = await renderRedis({ url: redis.url, prefix: 'mixed' });
    expect(await v1Render('mixed')).toBe(v2);
    expect(v2).toContain('c_total{k="a"} 10\n');
    expect(v2).toContain('g_sum 5\n');
    expect(v2).toContain('g_last 20\n');
    expect(v2).toContain('g_min 1\n');
    expect(v2).toContain('g_max 4\n');
    expect(v2).toContain('h_seconds_count 2\n');
    expect(v2).toContain('s_seconds_count 2\n');
    expect(v2).toContain('sw_seconds{quantile="0.5"} ');
    expect(v2).toContain('sw_seconds_count 2\n');
    expect(v2).toContain('nh_seconds_count 2\n');
    const pb1 = await readThrough(client, 'mixed', 1, { protobuf: true });
    expect((await readThrough(client, 'mixed', 2, { protobuf: true })).equals(pb1)).toBe(true);
  });

  it('a read of a Redis that answers the live-ids script with an error fails naming the cause, and the next read works', async () => {
    const meta = '{"v":1,"type":"counter","help":"X.","labelNames":[],"aggregator":"sum"}';
    await client.hset('promsd:{broken}:meta', 'x_total', meta);
    await client.set('promsd:{broken}:procs', 'not a sorted set');
    await expect(renderRedis({ url: redis.url, prefix: 'broken' })).rejects.toThrow(
      /reading the aggregate from Redis failed: .*WRONGTYPE/,
    );
    await client.del('promsd:{broken}:procs');
    expect(await renderRedis({ url: redis.url, prefix: 'broken' })).toBe('# HELP x_total X.\n# TYPE x_total counter\n');
  });
});

describe('the ioredis twin reads through the core', () => {
  it('renders protobuf (native buckets included) and text byte-identical to the core over redis-rs', async () => {
    const twin = new IoredisBackend({ url: redis.url, prefix: 'twin', logger: quiet });
    loadBackend(twin);
    const nh = new Histogram({ name: 'lat_seconds', help: 'L.', buckets: [1], nativeHistogramBucketFactor: 2 });
    for (const v of [0.25, 0.5, 3, 0]) nh.observe(v);
    new Gauge({ name: 'up_now', help: 'U.' }).set(1);
    const pb = await twin.renderProtobuf({ defaultLabels: ['env', 'prod'] });
    expect(pb.equals(await readThrough(client, 'twin', 2, { protobuf: true, defaultLabels: ['env', 'prod'] }))).toBe(
      true,
    );
    const [lat, up] = decodeFamilies(pb);
    expect(lat).toContain('name: "lat_seconds"');
    // Factor 2 is schema 0: 0.25, 0.5 and 3 in buckets -2, -1 and 2; 0 in the zero bucket.
    expect(lat).toContain('schema: 0');
    expect(lat).toMatch(/positive_span \{\s*offset: -2\s*length: 5\s*\}/);
    expect(lat).toContain('zero_count: 1');
    expect(lat).toContain('sample_count: 4');
    expect(lat).toContain('value: "prod"');
    expect(up).toContain('name: "up_now"');
    // The registry serves the twin's protobuf too (it used to fall back to the local view).
    const served = await register.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE });
    expect(decodeFamilies(served)).toEqual(
      decodeFamilies(pb).map((f) => f.replace(/\s*label \{\s*name: "env"\s*value: "prod"\s*\}/g, '')),
    );
    expect(await twin.render({ openMetrics: false, defaultLabels: [] })).toBe(
      await renderRedis({ url: redis.url, prefix: 'twin' }),
    );
  });
});
