// Side-by-side benchmark of promsd against prom-client 15.
//
//   npm run bench                        build, run every case, write bench/RESULTS.md
//   node bench/run.mjs                   same without the build
//   node bench/run.mjs --only a,b        run a subset (repeatable); prints the table
//                                        but leaves bench/RESULTS.md alone
//   BENCH_SELF=prom-client node bench/run.mjs
//                                        run prom-client in the promsd column too (to
//                                        test the harness before dist/ exists; the
//                                        table is marked as such)
//
// Each case runs in its own process (`node --expose-gc bench/cases/<case>.mjs <lib>`)
// so the two libraries never share a heap, a JIT profile or a GC. Cases run one
// after the other: this is a 2-core machine and parallel runs would skew each other.
// A case does its warm-up runs then RUNS measured runs and prints one JSON line;
// the memory case measures once per process, so it is started RUNS times instead.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { median, RUNS } from './lib.mjs';

// rows: one per figure the case reports (key as printed by the case, 'value' for
// single-figure cases). target: minimum prom-client / promsd ratio, null = info only.
const CASES = [
  { name: 'counter-labels', rows: { value: { title: 'labelled `counter.inc({method, status}, 1)`', target: 8 } } },
  {
    name: 'counter-labels-busy',
    rows: {
      value: { title: 'labelled `counter.inc({method, status}, 1)`, 8 other labelled counters in use', target: 10 },
    },
  },
  {
    name: 'counter-labels-random',
    rows: {
      value: { title: 'labelled `counter.inc({method, status}, 1)`, 32 series in a random order', target: null },
    },
  },
  { name: 'counter-child', rows: { value: { title: 'cached child `labels(...).inc()`', target: 40 } } },
  { name: 'histogram-observe', rows: { value: { title: '`histogram.observe(v)`, default buckets', target: 15 } } },
  {
    name: 'histogram-labels',
    rows: { value: { title: 'labelled `histogram.observe({method, status}, v)`, default buckets', target: null } },
  },
  { name: 'scrape-counters', rows: { value: { title: '`register.metrics()`, 100k counter series', target: 8 } } },
  {
    name: 'scrape-mainthread',
    rows: {
      value: { title: '`register.metrics()` main-thread time, 100k counter series', target: null, limit: 1.5 },
    },
  },
  { name: 'scrape-histograms', rows: { value: { title: '`register.metrics()`, 10k histogram series', target: 5 } } },
  {
    name: 'memory-counters',
    procs: RUNS,
    rows: {
      heap: { title: 'memory per counter series, heapUsed + external', target: null },
      rss: { title: 'memory per counter series, rss delta (heap + native)', target: 3.5 },
    },
  },
  {
    name: 'memory-histograms',
    // 11, not RUNS: at 10k series one process reads anywhere from ~230 to ~540 B a series (when
    // V8 touches its young generation's pages), so a median of 5 moves by ~100 B between runs.
    procs: 11,
    rows: {
      rss: { title: 'memory per histogram series (default buckets), rss delta (heap + native)', target: 3 },
    },
  },
  {
    // The same at 100k series, as the counter case: at 10k, V8 touching its young generation's
    // pages for the first time (~2 MB, both libraries) reads as ~200 B a series.
    name: 'memory-histograms',
    id: 'memory-histograms-100k',
    args: ['100000'],
    procs: RUNS,
    rows: {
      rss: {
        title: 'memory per histogram series (default buckets), 100k series, rss delta (heap + native)',
        target: 3,
      },
    },
  },
  ...[
    ['1k', '1000'],
    ['10k', '10000'],
  ].flatMap(([label, n]) => [
    {
      name: 'serve-throughput',
      id: `serve-${label}`,
      args: [n, 'identity'],
      rows: { value: { title: `\`/metrics\` requests/s over HTTP, ${label} series`, target: 5, better: 'higher' } },
    },
    {
      name: 'serve-throughput',
      id: `serve-${label}-gzip`,
      args: [n, 'gzip'],
      rows: {
        value: {
          title: `\`/metrics\` requests/s over HTTP, ${label} series, gzip accepted (promsd compresses)`,
          target: null,
          better: 'higher',
        },
      },
    },
  ]),
  {
    name: 'scrape-busy',
    rows: {
      value: {
        title: 'scrape p99 while the app thread blocks 50 of every 100 ms (promsd: threaded server)',
        target: null,
        limit: 5,
      },
    },
  },
  {
    name: 'scrape-eld',
    rows: { value: { title: 'serving thread event-loop stall during scrapes, 100k series', target: null, limit: 10 } },
  },
  {
    name: 'require-time',
    rows: {
      time: { title: '`require()` of the library, instrumentation only (fresh process)', target: 1 },
      rss: { title: 'rss added by that `require()`', target: null },
    },
  },
  {
    name: 'scrape-block',
    rows: {
      median: {
        title: 'creating a series during a 100k-series scrape: longest wait per scrape, median (other thread)',
        target: null,
        limit: 1,
      },
      max: { title: 'the same, longest over 3 s of back-to-back scrapes', target: null },
    },
  },
  {
    name: 'memory-churn',
    id: 'memory-drop',
    args: ['drop'],
    // A fixed young generation: V8 growing its semi-spaces (up to +12 MB of heapTotal, run to run)
    // would read as a leak; the figure is about memory left behind, not V8's heap sizing.
    nodeArgs: ['--max-semi-space-size=1'],
    procs: 3,
    rows: {
      value: {
        title: 'rss growth, 100k counters created and dropped × 10 (round 10 − round 1)',
        target: null,
        limit: 5,
      },
    },
  },
  {
    name: 'memory-churn',
    id: 'memory-workers',
    args: ['workers'],
    // A fixed young generation: V8 growing its semi-spaces (up to +12 MB of heapTotal, run to run)
    // would read as a leak; the figure is about memory left behind, not V8's heap sizing.
    nodeArgs: ['--max-semi-space-size=1'],
    procs: 3,
    rows: {
      value: {
        title: 'rss growth, 1,000 worker threads that each create a counter and exit',
        target: null,
        limit: 10,
      },
    },
  },
  {
    name: 'create-metrics',
    rows: {
      total: {
        title: 'creating 100k counters in one fresh `Registry` (a third with 2 label names)',
        target: null,
        limit: 1000,
      },
      first: { title: 'the same, its first 1,000 creations', target: null },
      last: { title: 'the same, its last 1,000 creations', target: null },
    },
  },
  { name: 'counter-inc', rows: { value: { title: 'unlabelled `counter.inc()`', target: 1 } } },
  { name: 'histogram-timer', rows: { value: { title: '`histogram.startTimer()` + end', target: 5 } } },
  { name: 'summary-observe', rows: { value: { title: '`summary.observe(v)`, default percentiles', target: 25 } } },
  { name: 'gauge-set', rows: { value: { title: '`gauge.set(v)`', target: null } } },
];
const LIBS = ['prom-client', 'promsd'];
const SELF = process.env.BENCH_SELF || 'promsd';

function parseArgs(argv) {
  const only = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only' && argv[i + 1]) only.push(...argv[++i].split(','));
    else throw new Error(`unknown argument ${argv[i]}; usage: run.mjs [--only case[,case]]`);
  }
  const names = CASES.map((c) => c.id ?? c.name);
  for (const n of only) if (!names.includes(n)) throw new Error(`unknown case ${n}; cases: ${names.join(', ')}`);
  return only;
}

// Run one case for one library; returns { unit, samples: { rowKey: number[] } } or throws.
function runCase(c, lib) {
  const file = fileURLToPath(new URL(`./cases/${c.name}.mjs`, import.meta.url));
  const arg = lib === 'promsd' ? SELF : lib;
  const out = { units: {}, samples: {} };
  for (let p = 0; p < (c.procs ?? 1); p++) {
    const r = spawnSync(process.execPath, ['--expose-gc', ...(c.nodeArgs ?? []), file, arg, ...(c.args ?? [])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    if (r.status !== 0) {
      const why =
        r.error?.message ?? (r.stderr.split('\n').find((l) => /^\w*Error( \[\w+\])?: /.test(l)) || `exit ${r.status}`);
      throw new Error(why.trim());
    }
    const printed = JSON.parse(r.stdout.trim().split('\n').at(-1));
    const rows = 'unit' in printed ? { value: printed } : printed;
    for (const k of Object.keys(c.rows)) {
      if (!rows[k]) throw new Error(`case printed no "${k}" figure`);
      (out.samples[k] ??= []).push(...rows[k].samples);
      (out.units ??= {})[k] = rows[k].unit;
    }
  }
  return out;
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function table(results) {
  const lines = [
    '| case | unit | prom-client | promsd | promsd better by | target | met |',
    '|---|---|--:|--:|--:|--:|:-:|',
  ];
  for (const { c, res } of results) {
    for (const [key, { title, target, better, limit }] of Object.entries(c.rows)) {
      const [pc, ps] = LIBS.map((l) => res[l]);
      const cell = (r) =>
        r instanceof Error ? `error: ${r.message.replaceAll('|', '\\|')}` : fmt(median(r.samples[key]));
      const unit = [pc, ps].find((r) => !(r instanceof Error))?.units[key] ?? '';
      const ok = !(pc instanceof Error) && !(ps instanceof Error);
      // The ratio always reads as "promsd is N× better": time and memory lower, rates higher.
      const [a, b] = ok ? [median(pc.samples[key]), median(ps.samples[key])] : [NaN, NaN];
      const ratio = better === 'higher' ? b / a : a / b;
      let goal = 'info';
      let met = '—';
      if (target != null) {
        goal = `≥ ${target}×`;
        met = ok && ratio >= target ? 'yes' : '**no**';
      } else if (limit != null) {
        goal = `promsd ≤ ${limit} ${unit}`;
        met = !(ps instanceof Error) && b <= limit ? 'yes' : '**no**';
      }
      lines.push(
        `| ${title} | ${unit} | ${cell(pc)} | ${cell(ps)} | ${ok ? `${fmt(ratio)}×` : '—'} | ${goal} | ${met} |`,
      );
    }
  }
  return lines.join('\n');
}

let only;
try {
  only = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
if (SELF === 'promsd') {
  try {
    createRequire(import.meta.url).resolve('promsd');
  } catch {
    console.error('promsd is not built (dist/index.js missing): run `npm run build`, or set BENCH_SELF=prom-client');
    process.exit(1);
  }
}

const t0 = Date.now();
const results = [];
for (const c of CASES.filter((c) => !only.length || only.includes(c.id ?? c.name))) {
  const res = {};
  for (const lib of LIBS) {
    process.stderr.write(`${c.id ?? c.name} / ${lib} ... `);
    try {
      res[lib] = runCase(c, lib);
      process.stderr.write('ok\n');
    } catch (e) {
      res[lib] = e;
      process.stderr.write(`FAILED: ${e.message}\n`);
    }
  }
  results.push({ c, res });
}

const machine =
  `Machine: nproc ${availableParallelism()} (${cpus()[0]?.model.trim()}), node ${process.version}, ` +
  `${new Date().toISOString()}; total bench time ${((Date.now() - t0) / 1000).toFixed(0)} s.`;
const selfNote =
  SELF === 'promsd'
    ? ''
    : `\n> **BENCH_SELF=${SELF}: the promsd column ran ${SELF}, not promsd. Harness test only.**\n`;
const md = `# promsd vs prom-client 15 benchmarks
${selfNote}
Generated by \`npm run bench\` (bench/run.mjs). Each case runs in its own \`node --expose-gc\`
process per library, one case at a time. Figures are medians of ${RUNS} measured runs after
warm-up runs (2 for the per-op cases, 3 for the HTTP cases). The ratio column always reads "promsd is N× better":
prom-client / promsd for times and memory, promsd / prom-client for requests/s.

- Per-op cases: 5·10⁶ calls timed with \`process.hrtime.bigint()\` (loop overhead included, the
  same for both), by a loop each case defines once, so that every measured run is the loop's
  steady optimised code for both libraries; afterwards the metric's value is read back and checked, so no update can be
  lost or optimised away. Labelled \`inc\` builds its label object literal on every call.
- Scrape cases: wall time of \`await register.metrics()\`; the output's sample lines are counted.
- HTTP cases (Debian's \`hey\` on loopback, bounded by time and requests): promsd serves with its
  own server (\`startHttpServer\`, or \`startHttpServerInThread\` where noted); prom-client with
  node:http calling \`await register.metrics()\`, as its users do (it does not compress). With
  \`Accept-Encoding: gzip\` (what Prometheus sends) promsd's figures include gzip (done in the core's
  encode task) in the \`gzip accepted\` rows; the other rows send hey's \`-disable-compression\`
  so both libraries do the same work. \`scrape-busy\`: the app thread spins 50 ms of every 100 ms; p99 of sequential
  scrapes. \`scrape-eld\`: the longest event-loop stall of the serving thread
  (\`monitorEventLoopDelay\`, 1 ms resolution) over 10 sequential scrapes of 100k series; on this
  2-core machine it includes preemption by hey and the encoder thread.
- \`require-time\`: \`require(lib)\` alone, in 21 fresh processes (after one that warms the file
  cache), median wall time and rss added; promsd's includes loading its native core.
- Memory: ${RUNS} fresh processes each (11 for the 10k-histogram case, whose single processes
  spread from ~230 to ~540 B a series for promsd); \`global.gc()\` before both snapshots; label value strings are
  built before the baseline. **The target is checked on the rss delta**, since only rss sees
  memory the Rust core allocates itself; heapUsed + external (external already includes
  \`arrayBuffers\`, i.e. SharedArrayBuffer slots) is shown for comparison.
- Memory that outlives metrics (\`memory-churn\`, one figure per process, 3 processes, each with
  \`--max-semi-space-size=1\` so that V8 resizing its young generation does not read as a leak): \`drop\`: 10 rounds
  of 100k counters created (each incremented once) and dropped, rotating \`clear()\`,
  \`removeSingleMetric\`, \`registers: []\` and a dropped \`Registry\`; rss after round 10 minus rss
  after round 1, each taken once the GC and the FinalizationRegistry callbacks settled (full GCs
  and event-loop turns until the core holds no more families than before). \`workers\`: 1,000
  worker threads (4 at a time) that each create a counter and exit; rss after them minus rss after
  50 warm-up workers. The script checks that every worker's increment is still in the total.
  Before issue 17's fix: +524 MB and +125 MB.
- \`scrape-block\`: 100k counter series scraped back to back (\`await register.metrics()\`, 3 s) while a
  worker thread creates a series every 0.5 ms; per scrape the longest creation, median over the
  scrapes (before issue 17's fix: 6.5 ms, the store lock being held for the whole encode).
  prom-client's worker has its own registry: its figure is an uncontended creation.
- \`histogram-timer\`, \`summary-observe\`: 2·10⁶ calls per run.
- \`create-metrics\`: wall time of creating 100k counters (\`registers: [registry]\`, a third with
  two label names, ~80-character help strings) in a new \`Registry\` per run, the previous run's
  metrics dropped and the GC settled first; the first and last 1,000 creations are timed apart
  to show the cost is flat. Afterwards the registry holds exactly 100k metrics and one counter's
  increment renders as expected.

${table(results)}

${machine}
`;
console.log(`\n${table(results)}\n\n${machine}`);
if (only.length) console.error('(--only: bench/RESULTS.md not written)');
else {
  // Sections written by other benches (e.g. bench/redis.mjs, between <!-- x:begin --> and
  // <!-- x:end --> markers) are kept.
  const file = new URL('./RESULTS.md', import.meta.url);
  let kept = '';
  try {
    kept = (readFileSync(file, 'utf8').match(/<!-- [\w-]+:begin[\s\S]*?<!-- [\w-]+:end -->/g) ?? []).join('\n\n');
  } catch {
    // first run
  }
  writeFileSync(file, kept ? `${md}\n${kept}\n` : md);
}
