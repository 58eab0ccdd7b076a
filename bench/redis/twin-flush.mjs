// Flush time of the ioredis twin (IoredisBackend) next to the Rust RedisBackend, same series:
// 10k counter series + 10k gauge series, all changed between flushes.
//   node bench/redis/twin-flush.mjs <url> [series] [runs]
// Prints one JSON line: per backend the first flush (everything new) and the median of `runs`
// steady flushes (every series changed), in ms, as seen by `await backend.flush()`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Counter, Gauge, IoredisBackend, RedisBackend, loadBackend, register } = require('promsd');
const [url, series = 10_000, runs = 9] = process.argv.slice(2).map((x, i) => (i === 0 ? x : Number(x)));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

const out = {};
for (const [name, Make] of [
  ['ioredis', IoredisBackend],
  ['rust', RedisBackend],
]) {
  register.clear();
  const backend = loadBackend(
    new Make({
      url,
      prefix: `bench-twin-${name}`,
      flushIntervalMs: 3_600_000 - 1,
      processTtlMs: 3_600_000,
      logger: quiet,
    }),
  );
  const c = new Counter({ name: 'tf_ops_total', help: 'Ops.', labelNames: ['k'] });
  const g = new Gauge({ name: 'tf_level', help: 'Level.', labelNames: ['k'] });
  const bump = (v) => {
    for (let i = 0; i < series; i++) {
      c.inc({ k: String(i) });
      g.set({ k: String(i) }, v);
    }
  };
  bump(0);
  const first = await ms(() => backend.flush());
  const steady = [];
  for (let r = 1; r <= runs; r++) {
    bump(r);
    steady.push(await ms(() => backend.flush()));
  }
  await backend.close();
  out[name] = { first, steady: median(steady) };
}
console.log(JSON.stringify({ series, runs, ...out }));
