// Creating 100k counters in one fresh Registry (issue 17: "registering the 100k-th metric costs
// what the first did"). Wall time of the whole loop, and of its first and last 1,000 creations:
// a registration that scanned the registry would show as a last-1k figure far above the first.
//
// Every third counter has two label names, the rest none; help strings are sentences of a
// realistic length. Each run uses a new Registry; the previous run's registry and metrics are
// dropped and the GC (and, for promsd, its FinalizationRegistry callbacks) settled before the
// clock starts. Afterwards the registry must hold exactly 100k metrics, and one labelled counter
// must increment and render the exact expected text.
import { loadLib, fullGc, median, check, report, RUNS } from '../lib.mjs';

const { Counter, Registry } = loadLib();
const N = 100_000;
const EDGE = 1_000;
const LABELS = ['method', 'status'];
// Names and help strings belong to the application: built before the clock starts, and flat
// as string literals are (a template literal leaves a rope of its pieces, which the first Map
// lookup or native read of either library flattens: a cost of the bench's strings, not of
// registration). The JSON round trip makes flat copies.
const flat = (xs) => JSON.parse(JSON.stringify(xs));
const names = flat(Array.from({ length: N }, (_, i) => `app_component${i % 100}_events${i}_total`));
const helps = flat(
  Array.from(
    { length: N },
    (_, i) => `Total number of events of kind ${i} handled by component ${i % 100}, since start`,
  ),
);

function create(registry) {
  const ns = (t0, t1) => Number(t1 - t0) / 1e6;
  const t0 = process.hrtime.bigint();
  let tFirst = 0n;
  let tLast = 0n;
  for (let i = 0; i < N; i++) {
    if (i === EDGE) tFirst = process.hrtime.bigint();
    if (i === N - EDGE) tLast = process.hrtime.bigint();
    // Two literals, not `labelNames: undefined`: prom-client refuses an explicit undefined.
    if (i % 3 === 0) new Counter({ name: names[i], help: helps[i], labelNames: LABELS, registers: [registry] });
    else new Counter({ name: names[i], help: helps[i], registers: [registry] });
  }
  const t1 = process.hrtime.bigint();
  return { total: ns(t0, t1), first: ns(t0, tFirst), last: ns(tLast, t1) };
}

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    fullGc();
    await new Promise((r) => setImmediate(r));
  }
};

const samples = { total: [], first: [], last: [] };
let registry;
for (let run = 0; run < RUNS + 1; run++) {
  registry = undefined;
  await settle();
  registry = new Registry();
  const r = create(registry);
  if (run === 0) continue; // warm-up
  for (const k of Object.keys(samples)) samples[k].push(r[k]);
}

check('metrics in the registry', registry.getMetricsAsArray().length, N);
const c = registry.getSingleMetric(names[N - 1]); // N - 1 is a multiple of 3: labelled
c.inc({ method: 'GET', status: '200' }, 2);
check(
  'rendered counter',
  await registry.getSingleMetricAsString(names[N - 1]),
  `# HELP ${names[N - 1]} ${helps[N - 1]}\n# TYPE ${names[N - 1]} counter\n${names[N - 1]}{method="GET",status="200"} 2`,
);
const row = (xs) => ({ unit: 'ms', median: median(xs), samples: xs });
report({ total: row(samples.total), first: row(samples.first), last: row(samples.last) });
