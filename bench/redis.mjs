// Cross-process benchmarks of the Redis backend, side by side with pytheus + pytheus-backend-rs
// on the same redis-server. Writes the "Redis backend" section of bench/RESULTS.md.
//
//   npm run build && node bench/redis.mjs [--seconds 10]
//
// Needs /usr/bin/redis-server; pytheus comes from bench/.venv
// (python3 -m venv bench/.venv && bench/.venv/bin/pip install pytheus pytheus-backend-rs);
// without it the pytheus rows say so. Runs one thing at a time (2-core machine).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

import { median, RUNS, startRedisServer } from './lib.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const SECONDS = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 10);
const PY = here('./.venv/bin/python');

const { port, url, proc: redis, cli } = await startRedisServer();

function info() {
  const text = cli('INFO', 'all');
  const num = (k) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
  const cmds = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) cmds[m[1]] = Number(m[2]);
  return { cpu: num('used_cpu_user') + num('used_cpu_sys'), cmds, t: performance.now() };
}

function delta(a, b) {
  const secs = (b.t - a.t) / 1000;
  const calls = {};
  for (const [k, v] of Object.entries(b.cmds)) calls[k] = (v - (a.cmds[k] ?? 0)) / secs;
  const all = Object.values(calls).reduce((x, y) => x + y, 0);
  return { secs, cpu: (b.cpu - a.cpu) / secs, calls, all };
}

function node(args) {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(r.stderr || `exit ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

async function parallel(cmd, argsList) {
  return Promise.all(
    argsList.map(
      (args) =>
        new Promise((resolve, reject) => {
          const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
          let out = '';
          p.stdout.on('data', (d) => (out += d));
          p.on('exit', (code) =>
            code === 0
              ? resolve(JSON.parse(out.trim().split('\n').at(-1)))
              : reject(new Error(`${cmd} exited ${code}`)),
          );
        }),
    ),
  );
}

async function sumOf(prefix, name) {
  const { renderRedis } = (await import('node:module')).createRequire(import.meta.url)('promsd');
  const text = await renderRedis({ url, prefix });
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const _rows = [];

// 1. Hot path.
process.stderr.write('hot path ... ');
const hot = { memory: [], redis: [] };
for (let r = 0; r < 3; r++)
  for (const mode of ['memory', 'redis']) hot[mode].push(node(['--expose-gc', here('./redis/hotpath.mjs'), mode, url]));
const hm = (mode, k) => median(hot[mode].map((x) => x[k]));
const hotRows = [
  ['labelled `counter.inc({method, status})`', 'labelled'],
  ['cached child `labels(...).inc()`', 'cached'],
  ['`histogram.observe(v)`', 'observe'],
].map(
  ([title, k]) =>
    `| ${title} | ${fmt(hm('memory', k))} | ${fmt(hm('redis', k))} | ${(hm('redis', k) / hm('memory', k)).toFixed(2)}× | ≤ 1.2× | ${hm('redis', k) / hm('memory', k) <= 1.2 ? 'yes' : '**no**'} |`,
);
process.stderr.write('ok\n');

// 2. 4 processes × 2 worker threads × 1k series.
process.stderr.write(`load ${SECONDS}s ... `);
const before = info();
const load = await parallel(
  process.execPath,
  [0, 1, 2, 3].map(() => [here('./redis/load-proc.mjs'), url, 'bench-load', String(SECONDS), '2', '1000']),
);
const after = info();
const d = delta(before, after);
const incs = load.reduce((s, x) => s + x.incs, 0);
const inRedis = await sumOf('bench-load', 'load_ops_total');
process.stderr.write('ok\n');

// 3. Per-process increments/s, promsd vs pytheus (4 processes at once, 1k series, main thread).
const SHORT = Math.min(SECONDS, 5);
process.stderr.write('promsd inc ... ');
let b0 = info();
const ps = await parallel(
  process.execPath,
  [0, 1, 2, 3].map(() => [here('./redis/load-proc.mjs'), url, 'bench-inc', String(SHORT), '0', '1000']),
);
const psD = delta(b0, info());
const psTotal = await sumOf('bench-inc', 'load_ops_total');
process.stderr.write('ok\n');
let py = null;
if (existsSync(PY)) {
  process.stderr.write('pytheus inc ... ');
  b0 = info();
  const res = await parallel(
    PY,
    [0, 1, 2, 3].map(() => [here('./redis/pytheus_bench.py'), 'inc', String(port), String(SHORT), '1000']),
  );
  const pyD = delta(b0, info());
  // Read straight from Redis: pytheus's own exposition only lists the children its process made.
  const applied = cli('HGETALL', 'py_inc_total')
    .trim()
    .split('\n')
    .filter((_, i) => i % 2 === 1)
    .reduce((s, v) => s + Number(v), 0);
  process.stderr.write('ok\npytheus scrape ... ');
  const sc = JSON.parse(
    spawnSync(PY, [here('./redis/pytheus_bench.py'), 'scrape', String(port), '10000', String(RUNS)], {
      encoding: 'utf8',
      timeout: 300_000,
    }).stdout,
  );
  process.stderr.write('ok\n');
  py = { res, pyD, applied, sc };
}
process.stderr.write('promsd scrape ... ');
const sc = node([here('./redis/scrape.mjs'), url, '10000', String(RUNS)]);
process.stderr.write('ok\n');
redis.kill('SIGKILL');

const perProc = (list) => list.map((x) => x.incs / (x.seconds ?? SHORT));
const md = `<!-- redis:begin (bench/redis.mjs) -->
## Redis backend (bench/redis.mjs)

One redis-server 7.0 on loopback (\`--save "" --appendonly no\`), started by the bench; everything
runs one after the other on this 2-core machine, so the load figures are CPU-bound by the
writers themselves (8 threads on 2 cores) — Redis's share is what matters.

**Hot path with the backend loaded** (ns/op, median of 3 processes × ${RUNS} runs of 5·10⁶; the
flusher runs every second meanwhile; after the runs the Redis total is checked to the unit):

| update | in memory | Redis backend loaded | ratio | target | met |
|---|--:|--:|--:|--:|:-:|
${hotRows.join('\n')}

**4 processes × 2 worker threads, each incrementing 1,000 series as fast as it can for ${SECONDS} s**
(shortened from 30 s to keep a bench run short; flush every 1 s):

| figure | value |
|---|--:|
| increments/s, all 8 threads | ${fmt(incs / d.secs / 1e6)} M |
| increments in total / found in Redis afterwards | ${incs} / ${inRedis} ${incs === inRedis ? '(exact)' : '**(mismatch)**'} |
| EVALSHA calls/s (one per process per flush) | ${fmt(d.calls.evalsha ?? 0)} |
| Redis commands/s incl. those run by the script | ${fmt(d.all)} |
| Redis CPU (user+sys) | ${fmt(d.cpu * 100)} % of one core |

**promsd vs pytheus + pytheus-backend-rs on the same Redis**: 4 processes at once, each
incrementing 1,000 labelled series from its main thread for ${SHORT} s; then a scrape of 10k
counter series.

| figure | pytheus + backend-rs | promsd (Redis backend) |
|---|--:|--:|
| increments/s per process (median) | ${py ? `${fmt(median(perProc(py.res)) / 1e6)} M` : 'not installed'} | ${fmt(median(perProc(ps)) / 1e6)} M |
| increments that reached Redis | ${py ? `${py.applied} of ${py.res.reduce((s, x) => s + x.incs, 0)} (the rest was still queued when the process ended, 3 s after its loop)` : '—'} | ${psTotal} of ${ps.reduce((s, x) => s + x.incs, 0)} |
| Redis commands/s during the run | ${py ? fmt(py.pyD.all) : '—'} | ${fmt(psD.all)} |
| Redis CPU during the run | ${py ? `${fmt(py.pyD.cpu * 100)} %` : '—'} | ${fmt(psD.cpu * 100)} % |
| scrape of 10k series, ms (median of ${RUNS}) | ${py ? `${fmt(median(py.sc.ms))} (\`generate_metrics()\`, ${py.sc.lines} lines)` : '—'} | ${fmt(median(sc.own))} (\`register.metrics()\`: flush + read + render); ${fmt(median(sc.side))} (sidecar \`renderRedis\`) |

**Wide read** (16 live processes × 10k gauge series, protocol v1 next to v2): its own section below,
written by \`bench/redis/wide-read.mjs\`, which this bench runs last.

pytheus-backend-rs sends every increment to Redis as its own command through a channel to Rust
threads; the increments it had not applied when its process ended are lost. promsd sends
cumulative values of changed series once per second, so Redis work does not grow with the
update rate, and the totals are exact.

Machine: nproc ${availableParallelism()} (${cpus()[0]?.model.trim()}), node ${process.version}, ${new Date().toISOString()}.
<!-- redis:end -->`;
const file = here('./RESULTS.md');
const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
const re = /<!-- redis:begin[\s\S]*?<!-- redis:end -->/;
writeFileSync(file, re.test(old) ? old.replace(re, md) : `${old.trimEnd()}\n\n${md}\n`);
console.log(md);

// The wide read (protocol v1 vs v2), its own redis-server and section.
const wideRun = spawnSync(process.execPath, [here('./redis/wide-read.mjs')], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (wideRun.status !== 0) throw new Error(`bench/redis/wide-read.mjs exited ${wideRun.status}`);
