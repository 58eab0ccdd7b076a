import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RedisServer, startRedis } from './helpers/redis';

// The shared protocol vectors (test/fixtures/protocol-vectors.json) against the real apply.lua
// on a real redis-server. The same file runs against the core's model of the scripts in Rust
// (native/src/backend/vectors.rs), so the script and the model cannot drift apart unnoticed.

interface ApplyStep {
  at: number;
  keys?: string[];
  argv?: string[];
  reply?: unknown;
  wipe?: boolean;
  command?: string[];
}

interface ApplyCase {
  name: string;
  prefix: string;
  steps: ApplyStep[];
  expect: Record<string, string | Record<string, string>>;
}

const VECTORS = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'protocol-vectors.json'), 'utf8')) as {
  apply: ApplyCase[];
  read: unknown[];
};
const APPLY_LUA = readFileSync(join(__dirname, '..', 'native', 'src', 'backend', 'apply.lua'), 'utf8');

/** `{tK}` / `{tK+N}` in `s` → step K's server time (+ N). */
function resolve(s: string, times: number[]): string {
  return s.replace(/\{t(\d+)(?:\+(\d+))?\}/g, (_, k: string, n: string | undefined) => {
    const t = times[Number(k)];
    if (t === undefined) throw new Error(`{t${k}} names a step without a server time`);
    return String(t + Number(n ?? 0));
  });
}

/** Every key of `prefix` as the vectors write it: strings, hashes, the sorted set as member → score. */
async function dump(client: Redis, prefix: string): Promise<Record<string, string | Record<string, string>>> {
  const out: Record<string, string | Record<string, string>> = {};
  for (const key of await client.keys(`promsd:{${prefix}}:*`)) {
    const type = await client.type(key);
    if (type === 'string') out[key] = (await client.get(key)) as string;
    else if (type === 'hash') out[key] = await client.hgetall(key);
    else if (type === 'zset') {
      const flat = await client.zrange(key, 0, -1, 'WITHSCORES');
      const z: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) z[flat[i]] = flat[i + 1];
      out[key] = z;
    } else throw new Error(`unexpected ${type} key ${key}`);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer;
let client: Redis;
let sha: string;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  sha = (await client.script('LOAD', APPLY_LUA)) as string;
});
afterAll(async () => {
  client.disconnect();
  await redis.kill();
});

describe('protocol vectors on redis-server', () => {
  it('has the cases the protocol needs, and room for the read side', () => {
    expect(VECTORS.apply.map((c) => c.prefix)).toEqual([
      'v-first',
      'v-retry',
      'v-epoch',
      'v-lost',
      'v-gauges',
      'v-bye',
      'v-nonfinite',
      'v-zero',
    ]);
    expect(Array.isArray(VECTORS.read)).toBe(true);
  });

  for (const c of VECTORS.apply) {
    it(`apply.lua: ${c.name}`, async () => {
      const start = Date.now();
      const times: number[] = [];
      for (const [i, step] of c.steps.entries()) {
        const wait = start + step.at - Date.now();
        if (wait > 0) await sleep(wait);
        if (step.wipe) {
          const keys = await client.keys(`promsd:{${c.prefix}}:*`);
          if (keys.length > 0) await client.del(...keys);
        } else if (step.command !== undefined) {
          expect(await client.call(step.command[0], ...step.command.slice(1)), `step ${i}`).toEqual(step.reply);
        } else {
          const keys = step.keys as string[];
          const reply = (await client.evalsha(sha, keys.length, ...keys, ...(step.argv as string[]))) as unknown[];
          expect(reply.slice(0, 2), `step ${i}`).toEqual(step.reply);
          // The fourth element lists refused families (protocol §5): none in these cases.
          expect(reply[3] ?? [], `step ${i}: refused`).toEqual([]);
          expect(reply[2], `step ${i}: server time`).toBeGreaterThanOrEqual(start - 1000);
          times[i] = reply[2] as number;
        }
      }
      const want = Object.fromEntries(
        Object.entries(c.expect).map(([k, v]) => [
          k,
          typeof v === 'string'
            ? resolve(v, times)
            : Object.fromEntries(Object.entries(v).map(([f, x]) => [f, resolve(x, times)])),
        ]),
      );
      expect(await dump(client, c.prefix)).toEqual(want);
    });
  }
});
