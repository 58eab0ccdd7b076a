// Flush time of the ioredis twin (IoredisBackend) next to the Rust RedisBackend, same series, same
// run: 10k counter series + 10k gauge series, every one changed between flushes. Writes the
// "ioredis twin" section of bench/RESULTS.md.
//
//   npm run build && node bench/redis/twin-flush.mjs
//
// Starts its own redis-server; each figure is measured in a fresh process (3 per backend,
// alternating), as `await backend.flush()` sees it: the first flush (everything new) and the
// median of 9 steady flushes.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startRedisServer } from '../lib.mjs';

const SERIES = 10_000;
const RUNS = 9;
const PROCS = 3;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function child(kind, url) {
  const require = createRequire(import.meta.url);
  const { Counter, Gauge, IoredisBackend, RedisBackend, loadBackend } = require('promsd');
  const Make = kind === 'ioredis' ? IoredisBackend : RedisBackend;
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const backend = loadBackend(
    new Make({
      url,
      prefix: `bench-twin-${kind}-${process.pid}`,
      flushIntervalMs: 600_000,
      processTtlMs: 900_000,
      logger: quiet,
    }),
  );
  const c = new Counter({ name: 'tf_ops_total', help: 'Ops.', labelNames: ['k'] });
  const g = new Gauge({ name: 'tf_level', help: 'Level.', labelNames: ['k'] });
  const bump = (v) => {
    for (let i = 0; i < SERIES; i++) {
      c.inc({ k: String(i) });
      g.set({ k: String(i) }, v);
    }
  };
  const ms = async (fn) => {
    const t0 = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  bump(0);
  const first = await ms(() => backend.flush());
  const steady = [];
  for (let r = 1; r <= RUNS; r++) {
    bump(r);
    steady.push(await ms(() => backend.flush()));
  }
  await backend.close();
  console.log(JSON.stringify({ first, steady: median(steady) }));
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4]);
} else {
  const { url, proc: redis } = await startRedisServer();
  const got = { ioredis: [], rust: [] };
  try {
    for (let p = 0; p < PROCS; p++) {
      for (const kind of ['ioredis', 'rust']) {
        const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, url], {
          encoding: 'utf8',
          timeout: 120_000,
        });
        if (r.status !== 0) throw new Error(r.stderr || `exit ${r.status}`);
        got[kind].push(JSON.parse(r.stdout.trim().split('\n').at(-1)));
      }
    }
  } finally {
    redis.kill();
  }
  const fmt = (x) => x.toFixed(1);
  const row = (what, key) => {
    const a = median(got.ioredis.map((x) => x[key]));
    const b = median(got.rust.map((x) => x[key]));
    return `| ${what} | ${fmt(a)} | ${fmt(b)} | ${(a / b).toFixed(2)}× |`;
  };
  const md = `<!-- twin-flush:begin (bench/redis/twin-flush.mjs) -->
## ioredis twin flush (bench/redis/twin-flush.mjs)

\`await backend.flush()\` of ${SERIES / 1000}k counter series + ${SERIES / 1000}k gauge series (every one changed
between flushes) to one redis-server 7.0 on loopback, ms, median of ${PROCS} fresh processes per backend
(alternating); steady = median of ${RUNS} flushes per process. Both backends run the core's writer
(snapshot, diff, apply argv); the twin sends the calls through ioredis from the JS thread.

| flush | IoredisBackend | RedisBackend | ratio |
|---|--:|--:|--:|
${row('first (everything new)', 'first')}
${row('steady (every series changed)', 'steady')}

Before the twin ran the core's writer (its own TypeScript writer over a snapshot copied to JS,
up to commit 2bb2d8e), the same harness on this machine measured the twin at 179–405 ms (first)
and 125–148 ms (steady), 1.7–4.8× RedisBackend in the same runs (two runs, alternating with the
new build).

Machine: nproc ${availableParallelism()} (${cpus()[0]?.model.trim()}), node ${process.version}, ${new Date().toISOString()}.
<!-- twin-flush:end -->`;
  const file = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const re = /<!-- twin-flush:begin[\s\S]*?<!-- twin-flush:end -->/;
  writeFileSync(file, re.test(old) ? old.replace(re, md) : `${old.trimEnd()}\n\n${md}\n`);
  console.log(md);
}
