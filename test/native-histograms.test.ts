import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Histogram, PROTOBUF_CONTENT_TYPE, Registry, register } from '../index';
import { bucketIndex, pickSchema, upperBound } from '../metrics/native-histogram';
import { decodeFamilies } from './helpers/protoc';

// Native histograms: options, bucket indexes, schema reduction, resets and the merge across
// threads, checked on the protobuf exposition decoded by protoc.

async function histogramOf(reg: Registry, name: string): Promise<string> {
  const all = decodeFamilies(await reg.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE }));
  const f = all.find((t) => t.startsWith(`name: "${name}"\n`));
  if (f === undefined) throw new Error(`no family ${name}`);
  return f.slice(f.indexOf('  histogram {'));
}

/** The histogram block protoc prints for these native fields. */
function nativeBlock(o: {
  count: number;
  sum: number;
  buckets?: [number, number][];
  schema: number;
  zeroThreshold?: string;
  zeroCount?: number;
  spans: [number, number][];
  deltas: number[];
}): string {
  const lines = [`sample_count: ${o.count}`, `sample_sum: ${o.sum}`];
  for (const [c, b] of o.buckets ?? []) lines.push('bucket {', `  cumulative_count: ${c}`, `  upper_bound: ${b}`, '}');
  lines.push(`schema: ${o.schema}`, `zero_threshold: ${o.zeroThreshold ?? '2.9387358770557188e-39'}`);
  lines.push(`zero_count: ${o.zeroCount ?? 0}`);
  for (const [off, len] of o.spans) lines.push('positive_span {', `  offset: ${off}`, `  length: ${len}`, '}');
  for (const d of o.deltas) lines.push(`positive_delta: ${d}`);
  return `  histogram {\n${lines.map((l) => `    ${l}`).join('\n')}\n  }\n}\n`;
}

describe('native histogram options', () => {
  it('picks the schema from the bucket factor as client_golang does', () => {
    expect([1.0001, 1.003, 1.1, 1.5, 2, 4, 300, 1e9].map(pickSchema)).toEqual([8, 8, 3, 1, 0, -1, -3, -4]);
  });

  it('refuses bad native options naming the metric and the value', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ nativeHistogramBucketFactor: 1 }, 'nativeHistogramBucketFactor must be a number above 1, got 1'],
      [{ nativeHistogramBucketFactor: '2' }, 'nativeHistogramBucketFactor must be a number above 1, got "2"'],
      [{ nativeHistogramZeroThreshold: -1 }, 'nativeHistogramZeroThreshold must be a finite number ≥ 0, got -1'],
      [{ nativeHistogramMaxBucketNumber: 1.5 }, 'nativeHistogramMaxBucketNumber must be an integer ≥ 0, got 1.5'],
      [
        { nativeHistogramMinResetDuration: Number.NaN },
        'nativeHistogramMinResetDuration must be a number of milliseconds ≥ 0, got NaN',
      ],
    ];
    for (const [opts, msg] of bad) {
      expect(() => new Histogram({ name: 'bad_native', help: 'h', registers: [], ...opts })).toThrow(
        `Histogram "bad_native": ${msg}`,
      );
    }
    expect(() => new Histogram({ name: 'bad_empty', help: 'h', registers: [], buckets: [] as number[] })).not.toThrow();
  });
});

/** The doubles just below and just above a positive finite `x`. */
function neighbours(x: number): [number, number] {
  const bits = new BigUint64Array(new Float64Array([x]).buffer);
  const f = new Float64Array(bits.buffer);
  bits[0] -= 1n;
  const below = f[0];
  bits[0] += 2n;
  return [below, f[0]];
}

describe('native histogram buckets', () => {
  it('index like client_golang at the bucket boundaries', () => {
    expect([1, 1.5, 2, 2.0000001, 0.5, 0.25].map((v) => bucketIndex(v, 0))).toEqual([0, 1, 1, 2, -1, -2]);
    expect([1, 2, 1.09, 1.0905077326652577, 1.0906].map((v) => bucketIndex(v, 3))).toEqual([0, 8, 1, 1, 2]);
    expect([3, 4, 5, 16, 17].map((v) => bucketIndex(v, -1))).toEqual([1, 1, 2, 2, 3]);
    expect(bucketIndex(5e-324, 0)).toBe(-1074);
    // Every schema, values spread over many magnitudes and exactly on bounds: (ub(k-1), ub(k)].
    const wrong: string[] = [];
    for (let s = -4; s <= 8; s++) {
      const values = Array.from({ length: 2000 }, (_, i) => 10 ** (((i * 37) % 200) / 10 - 10) * (1 + (i % 7) / 10));
      // Each bound and its neighbouring doubles (the index compares mantissa bits with the bounds').
      for (let k = -40; k <= 40; k++) values.push(upperBound(k, s), ...neighbours(upperBound(k, s)));
      for (const v of values) {
        const k = bucketIndex(v, s);
        if (!(v > upperBound(k - 1, s) && v <= upperBound(k, s))) wrong.push(`${v} → ${k} at schema ${s}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(bucketIndex(Number.POSITIVE_INFINITY, 0)).toBe(bucketIndex(Number.MAX_VALUE, 0) + 1);
  });

  it('keep classic buckets beside native ones, so the text exposition is unchanged', async () => {
    const plain = new Registry();
    const both = new Registry();
    const a = new Histogram({ name: 'side', help: 'S.', buckets: [0.5, 1], registers: [plain] });
    const b = new Histogram({
      name: 'side',
      help: 'S.',
      buckets: [0.5, 1],
      nativeHistogramBucketFactor: 1.1,
      registers: [both],
    });
    for (const v of [0.25, 0.75, 3, 0]) {
      a.observe(v);
      b.observe(v);
    }
    expect(await both.metrics()).toBe(await plain.metrics());
    expect(await histogramOf(both, 'side')).toBe(
      nativeBlock({
        count: 4,
        sum: 4,
        buckets: [
          [2, 0.5],
          [3, 1],
        ],
        schema: 3,
        zeroCount: 1,
        // 0.25 → -16, 0.75 → -3, 3 → 13
        spans: [
          [-16, 1],
          [12, 1],
          [15, 1],
        ],
        deltas: [1, 0, 0],
      }),
    );
  });

  it('reduce the schema when a new bucket passes the bucket limit', async () => {
    const reg = new Registry();
    const h = new Histogram({
      name: 'limited',
      help: 'L.',
      buckets: [],
      nativeHistogramBucketFactor: 2,
      nativeHistogramMaxBucketNumber: 4,
      registers: [reg],
    });
    // Schema 0: buckets 0..5; the fifth bucket halves the resolution (schema -1: 0, 1, 1, 2, 2, 3).
    for (const v of [1, 2, 4, 8, 16, 32]) h.observe(v);
    expect(await histogramOf(reg, 'limited')).toBe(
      nativeBlock({ count: 6, sum: 63, schema: -1, spans: [[0, 4]], deltas: [1, 1, 0, -1] }),
    );
    expect(await reg.metrics()).toContain('limited_count 6\n');
  });

  it('reset the series at the bucket limit once the minimum reset duration has passed', async () => {
    const reg = new Registry();
    const h = new Histogram({
      name: 'resetting',
      help: 'R.',
      buckets: [],
      nativeHistogramBucketFactor: 2,
      nativeHistogramMaxBucketNumber: 2,
      nativeHistogramMinResetDuration: 1,
      registers: [reg],
    });
    h.observe(1);
    h.observe(2);
    await new Promise((r) => setTimeout(r, 5));
    h.observe(4);
    // Started over with the observation that passed the limit (client_golang's maybeReset).
    expect(await histogramOf(reg, 'resetting')).toBe(
      nativeBlock({ count: 1, sum: 4, schema: 0, spans: [[2, 1]], deltas: [1] }),
    );
  });

  it('count through children and start again from zero after zero() and remove()', async () => {
    const reg = new Registry();
    const h = new Histogram({
      name: 'kids',
      help: 'K.',
      labelNames: ['k'],
      buckets: [],
      nativeHistogramBucketFactor: 2,
      registers: [reg],
    });
    const child = h.labels('a');
    child.observe(1);
    child.observe(1);
    h.observe({ k: 'a' }, 2);
    expect(await histogramOf(reg, 'kids')).toBe(
      nativeBlock({ count: 3, sum: 4, schema: 0, spans: [[0, 2]], deltas: [2, -1] }),
    );
    h.zero({ k: 'a' });
    child.observe(4);
    expect(await histogramOf(reg, 'kids')).toBe(
      nativeBlock({ count: 1, sum: 4, schema: 0, spans: [[2, 1]], deltas: [1] }),
    );
    h.remove('a');
    child.observe(8);
    expect(await histogramOf(reg, 'kids')).toBe(
      nativeBlock({ count: 1, sum: 8, schema: 0, spans: [[3, 1]], deltas: [1] }),
    );
  });

  it('merge across worker threads at the smaller schema', async () => {
    const name = 'threads_native_seconds';
    const h = new Histogram({ name, help: 'T.', buckets: [], nativeHistogramBucketFactor: 1.1 });
    h.observe(1);
    h.observe(3);
    // A worker with schema 0 (factor 2) observes 3 and 5, then stays parked while we scrape.
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const w = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { Histogram } = require('promsd');
       const h = new Histogram({ name: '${name}', help: 'T.', buckets: [], nativeHistogramBucketFactor: 2 });
       h.observe(3); h.observe(5);
       parentPort.postMessage('done');
       Atomics.wait(new Int32Array(workerData), 0, 0);`,
      { eval: true, workerData: gate.buffer },
    );
    try {
      await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      // Schema 0: 1 → 0, 3 → 2 (twice), 5 → 3.
      expect(await histogramOf(register, name)).toBe(
        nativeBlock({ count: 4, sum: 12, schema: 0, spans: [[0, 4]], deltas: [1, -1, 2, -1] }),
      );
    } finally {
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      await new Promise((r) => w.once('exit', r));
    }
  });
});
