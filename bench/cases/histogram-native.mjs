// Native histogram against a classic one (promsd only: prom-client has no native histograms).
//   node --expose-gc bench/cases/histogram-native.mjs promsd
// 1. observe cost: unlabelled observe(v), v precomputed in [1e-3, 10) log-uniformly, for a classic
//    histogram with the default buckets, a native-only one (factor 1.1 → schema 3, ~106
//    populated buckets over those four decades), and one with both. Target: native ≤ 1.5× classic.
// 2. exposition size at comparable resolution: 100 series of 10⁴ observations each; the classic
//    histogram gets the native schema's bucket bounds over the observed range (2^(k/8), the same
//    resolution) and is exposed as text (what a classic scraper reads); the native one as protobuf
//    (the only format that carries it). Plain and gzipped.
import { loadLib, measure, nsPerOp, check, report, RUNS, WARMUP } from '../lib.mjs';

const { Histogram, Registry, PROTOBUF_CONTENT_TYPE } = loadLib();
const N = 5e6;
const V = Float64Array.from({ length: 1024 }, () => 10 ** (Math.random() * 4 - 3));

const classic = new Histogram({ name: 'bench_classic_seconds', help: 'h' });
const nativeOnly = new Histogram({
  name: 'bench_native_seconds',
  help: 'h',
  buckets: [],
  nativeHistogramBucketFactor: 1.1,
});

const both = new Histogram({ name: 'bench_both_seconds', help: 'h', nativeHistogramBucketFactor: 1.1 });

// The timed loop is defined once, so every run reuses its optimised code (steady state).
const loop = (n) => {
  for (let i = 0; i < n; i++) classic.observe(V[i & 1023]);
};
const loop2 = (n) => {
  for (let i = 0; i < n; i++) nativeOnly.observe(V[i & 1023]);
};
const loop3 = (n) => {
  for (let i = 0; i < n; i++) both.observe(V[i & 1023]);
};

const c = await measure('ns/op', () => nsPerOp(N, loop));
const nat = await measure('ns/op', () => nsPerOp(N, loop2));
const b = await measure('ns/op', () => nsPerOp(N, loop3));
const count = async (h, name) => (await h.get()).values.find((v) => v.metricName === `${name}_count`).value;
check('classic count', await count(classic, 'bench_classic_seconds'), (RUNS + WARMUP) * N);
check('native count', await count(nativeOnly, 'bench_native_seconds'), (RUNS + WARMUP) * N);

// Exposition size.
const bounds = [];
for (let k = Math.floor(-3 * Math.log2(10) * 8); k <= Math.ceil(Math.log2(10) * 8); k++) bounds.push(2 ** (k / 8));
const regC = new Registry();
const regN = new Registry();
const hc = new Histogram({ name: 'size_seconds', help: 'h', labelNames: ['i'], buckets: bounds, registers: [regC] });
const hn = new Histogram({
  name: 'size_seconds',
  help: 'h',
  labelNames: ['i'],
  buckets: [],
  nativeHistogramBucketFactor: 1.1,
  registers: [regN],
});
for (let s = 0; s < 100; s++) {
  const labels = { i: String(s) };
  for (let j = 0; j < 1e4; j++) {
    const v = 10 ** (Math.random() * 4 - 3);
    hc.observe(labels, v);
    hn.observe(labels, v);
  }
}
const size = async (reg, contentType, gzip) => (await reg.metricsBuffer({ contentType, gzip })).length;
report({
  classicNsPerOp: c.median,
  nativeNsPerOp: nat.median,
  ratio: nat.median / c.median,
  classicPlusNativeNsPerOp: b.median,
  classicPlusNativeRatio: b.median / c.median,
  classicBuckets: bounds.length,
  classicTextBytes: await size(regC, undefined, false),
  classicTextGzipBytes: await size(regC, undefined, true),
  classicProtobufBytes: await size(regC, PROTOBUF_CONTENT_TYPE, false),
  nativeProtobufBytes: await size(regN, PROTOBUF_CONTENT_TYPE, false),
  nativeProtobufGzipBytes: await size(regN, PROTOBUF_CONTENT_TYPE, true),
});
