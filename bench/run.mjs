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
// A case does a warm-up run then RUNS measured runs and prints one JSON line;
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
  { name: 'counter-child', rows: { value: { title: 'cached child `labels(...).inc()`', target: 30 } } },
  { name: 'histogram-observe', rows: { value: { title: '`histogram.observe(v)`, default buckets', target: 10 } } },
  { name: 'scrape-counters', rows: { value: { title: '`register.metrics()`, 100k counter series', target: 8 } } },
  { name: 'scrape-histograms', rows: { value: { title: '`register.metrics()`, 10k histogram series', target: 5 } } },
  {
    name: 'memory-counters',
    procs: RUNS,
    rows: {
      heap: { title: 'memory per counter series, heapUsed + external', target: null },
      rss: { title: 'memory per counter series, rss delta (heap + native)', target: 3 },
    },
  },
  { name: 'counter-inc', rows: { value: { title: 'unlabelled `counter.inc()`', target: null } } },
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
  const names = CASES.map((c) => c.name);
  for (const n of only) if (!names.includes(n)) throw new Error(`unknown case ${n}; cases: ${names.join(', ')}`);
  return only;
}

// Run one case for one library; returns { unit, samples: { rowKey: number[] } } or throws.
function runCase(c, lib) {
  const file = fileURLToPath(new URL(`./cases/${c.name}.mjs`, import.meta.url));
  const arg = lib === 'promsd' ? SELF : lib;
  const out = { unit: '', samples: {} };
  for (let p = 0; p < (c.procs ?? 1); p++) {
    const r = spawnSync(process.execPath, ['--expose-gc', file, arg], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 180_000,
    });
    if (r.status !== 0) {
      const why = r.error?.message ?? (r.stderr.split('\n').find((l) => /^\w*Error( \[\w+\])?: /.test(l)) || `exit ${r.status}`);
      throw new Error(why.trim());
    }
    const printed = JSON.parse(r.stdout.trim().split('\n').at(-1));
    const rows = 'unit' in printed ? { value: printed } : printed;
    for (const k of Object.keys(c.rows)) {
      if (!rows[k]) throw new Error(`case printed no "${k}" figure`);
      (out.samples[k] ??= []).push(...rows[k].samples);
      out.unit = rows[k].unit;
    }
  }
  return out;
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function table(results) {
  const lines = [
    '| case | unit | prom-client | promsd | prom-client / promsd | target | met |',
    '|---|---|--:|--:|--:|--:|:-:|',
  ];
  for (const { c, res } of results) {
    for (const [key, { title, target }] of Object.entries(c.rows)) {
      const [pc, ps] = LIBS.map((l) => res[l]);
      const cell = (r) => (r instanceof Error ? `error: ${r.message.replaceAll('|', '\\|')}` : fmt(median(r.samples[key])));
      const unit = [pc, ps].find((r) => !(r instanceof Error))?.unit ?? '';
      const ok = !(pc instanceof Error) && !(ps instanceof Error);
      const ratio = ok ? median(pc.samples[key]) / median(ps.samples[key]) : NaN;
      const met = target == null ? '—' : ok && ratio >= target ? 'yes' : '**no**';
      lines.push(
        `| ${title} | ${unit} | ${cell(pc)} | ${cell(ps)} | ${ok ? fmt(ratio) + '×' : '—'} | ` +
          `${target == null ? 'info' : `≥ ${target}×`} | ${met} |`,
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
for (const c of CASES.filter((c) => !only.length || only.includes(c.name))) {
  const res = {};
  for (const lib of LIBS) {
    process.stderr.write(`${c.name} / ${lib} ... `);
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
  SELF === 'promsd' ? '' : `\n> **BENCH_SELF=${SELF}: the promsd column ran ${SELF}, not promsd. Harness test only.**\n`;
const md = `# promsd vs prom-client 15 benchmarks
${selfNote}
Generated by \`npm run bench\` (bench/run.mjs). Each case runs in its own \`node --expose-gc\`
process per library, one case at a time. Figures are medians of ${RUNS} measured runs after a
warm-up run; lower is better for every unit, so the ratio prom-client / promsd reads as
"× faster" for time and "× smaller" for memory.

- Per-op cases: 5·10⁶ calls timed with \`process.hrtime.bigint()\` (loop overhead included, the
  same for both); afterwards the metric's value is read back and checked, so no update can be
  lost or optimised away. Labelled \`inc\` builds its label object literal on every call.
- Scrape cases: wall time of \`await register.metrics()\`; the output's sample lines are counted.
- Memory: ${RUNS} fresh processes each; \`global.gc()\` before both snapshots; label value strings are
  built before the baseline. **The target is checked on the rss delta**, since only rss sees
  memory the Rust core allocates itself; heapUsed + external (external already includes
  \`arrayBuffers\`, i.e. SharedArrayBuffer slots) is shown for comparison.

${table(results)}

${machine}
`;
console.log('\n' + table(results) + '\n\n' + machine);
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
