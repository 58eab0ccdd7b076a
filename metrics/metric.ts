// The part every metric type shares: definition checks, registration with the core, and the
// label → series machinery. Subclasses only add their update methods.
import { InvalidLabelsError, InvalidMetricError, show } from '../errors';
import {
  compileLookup,
  find,
  hasLoneSurrogate,
  loneSurrogateProblem,
  insert,
  labelsFromPositional,
  labelValuesOf,
  readLabelValues,
  remove as removeFromTree,
  type LabelTree,
  type LabelValue,
  type LabelValues,
  type Lookup,
} from './labels';
import { native, type NativeTypes } from './native';
import { getGlobalRegistry, OPENMETRICS_CONTENT_TYPE, type Registry } from './registry';
import { slotsPerSeries } from './layout';
import { valuesOf } from './values';
import { CHUNK_MASK, CHUNK_SHIFT, shard, type Shard } from './shard';
import { checkLabelNames, LABEL_NAME, validateMetricName } from './validation';
import type { NativeSettings } from './native-histogram';

/**
 * How values of one series from several threads (or processes) combine; prom-client's names plus
 * `last` (across processes: the most recent write) and `perProcess` (across processes: one series
 * per process, labelled `process`). Counters, histograms and summaries always add across processes.
 */
export type Aggregator = 'omit' | 'sum' | 'first' | 'min' | 'max' | 'average' | 'last' | 'perProcess';

/** Every aggregator: the one TypeScript list (test/layout.test.ts ties it to the core's). */
export const AGGREGATORS: readonly Aggregator[] = [
  'omit',
  'sum',
  'first',
  'min',
  'max',
  'average',
  'last',
  'perProcess',
];

/** Metric types. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** A callback run before each scrape of the metric; `this` is the metric. */
export type CollectFunction<T> = (this: T) => void | Promise<void>;

/** Options common to every metric (prom-client's `MetricConfiguration`). */
export interface MetricConfiguration<T extends string> {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  name: string;
  /** Help text (the `# HELP` line), required as in prom-client. */
  help: string;
  /** Label names; every update must give a value for each. */
  labelNames?: readonly T[];
  /** Registries to add the metric to (default: the global registry). */
  registers?: Registry[];
  /** How series from several threads/processes combine (gauges; default `sum`). */
  aggregator?: Aggregator;
  /** Called before each scrape, e.g. to `set()` a gauge from a measurement. */
  collect?: CollectFunction<never>;
  /** Accept exemplars in updates (`inc({ labels, value, exemplarLabels })`). */
  enableExemplars?: boolean;
  /**
   * Refuse label sets that lack labels and values that are not strings or numbers (default:
   * accept them as prom-client does; also set by a registry's `strict` option).
   */
  strict?: boolean;
}

/** One value of `get()`, prom-client's shape. */
export interface MetricValue<T extends string> {
  value: number;
  labels: LabelValues<T> & { le?: string | number; quantile?: number };
  metricName?: string;
  exemplar?: { labelSet: Record<string, string>; value: number; timestamp: number } | null;
}

/** A value of `get()` with the sample's name (prom-client's `MetricValueWithName`). */
export type MetricValueWithName<T extends string> = MetricValue<T> & { metricName?: string };

/** A metric's description (prom-client's `MetricObject`). */
export interface MetricObject {
  name: string;
  help: string;
  type: MetricType;
  aggregator: Aggregator;
  // biome-ignore lint/suspicious/noExplicitAny: prom-client's type; `this` is whatever the metric is.
  collect?: CollectFunction<any>;
}

/**
 * What `get()` returns, prom-client's shape. `T` is the label names (promsd's spelling) or the
 * value type (prom-client's: `MetricObjectWithValues<MetricValue<'code'>>`).
 */
export interface MetricObjectWithValues<T extends string | MetricValue<string> = string> extends MetricObject {
  // Not distributive: `MetricObjectWithValues<'a' | 'b'>` holds values labelled by both names.
  values: ([T] extends [string] ? MetricValue<T & string> : T)[];
}

/** prom-client's `Collector`: a callback run to update metrics. */
export type Collector = () => void;

/** Internal description passed by subclasses. */
export interface FamilyShape {
  type: MetricType;
  /** Label names the type itself uses (`le`, `quantile`). */
  reserved: readonly string[];
  buckets?: number[];
  quantiles?: number[];
  maxAgeSeconds?: number;
  ageBuckets?: number;
  /** Native histogram settings (see native-histogram.ts). */
  native?: NativeSettings;
}

const SERIES_ADDR_INITIAL = 8;
/**
 * What a metric holds before its first series: typed arrays and Maps cost ~0.3 µs each to make
 * (issue 17: 100k metrics created in under a second), and most metrics are unlabelled.
 */
const NO_ADDRS = new Int32Array(0);
/**
 * The arrays the slow path reads a label set into (string values, values as passed), by label
 * count, one pair per thread: creating a series allocates no array of its own (issue 17). A
 * pair is taken out while in use, so a call made from inside the reading (a label getter or
 * `toString` that updates a metric) gets fresh arrays instead of overwriting these.
 */
interface Scratch {
  values: LabelValue[];
  raw: unknown[];
}
const scratch: (Scratch | undefined)[] = [];

function takeScratch(n: number): Scratch {
  const s = scratch[n];
  if (s === undefined) return { values: new Array<LabelValue>(n).fill(undefined), raw: new Array<unknown>(n) };
  scratch[n] = undefined;
  return s;
}

/** Puts a pair back, emptied so that it keeps no application value alive. */
function giveScratch(n: number, s: Scratch): void {
  s.values.fill(undefined);
  s.raw.fill(undefined);
  scratch[n] = s;
}

/**
 * A metric's first address table is a view on a shared buffer: ~50 ns, against ~400 ns for an
 * Int32Array with an ArrayBuffer of its own (issue 17). Tables that grow get their own; a
 * buffer is freed with the last view on it (4 KiB: at most that much kept per live metric).
 */
const POOL_INTS = 1024;
let pool = new ArrayBuffer(0);
let poolUsed = POOL_INTS;

function firstAddrs(length: number): Int32Array {
  if (poolUsed + length > POOL_INTS) {
    pool = new ArrayBuffer(POOL_INTS * 4);
    poolUsed = 0;
  }
  const addrs = new Int32Array(pool, poolUsed * 4, length);
  poolUsed += length;
  return addrs;
}
/**
 * The tree of every metric without a labelled series: never written (an unlabelled metric's one
 * series is `index0`; a labelled one gets its own tree with its first labelled series).
 */
const NO_LABELS_TREE: LabelTree = new Map();
/**
 * The lookup of a metric with no labelled series yet: it sends every call to the slow path,
 * which makes the metric's tree and compiles its own walk (`new Function`, ~0.6–3 µs) when it
 * creates the first labelled series. Each metric keeps its own walk: one shared by metrics with
 * the same label names would see all their label-object shapes and go megamorphic.
 */
const NOT_COMPILED: Lookup = () => undefined;

/** `c0` of a metric without its unlabelled series (see `Metric.c0`). */
const NO_CHUNK = new Float64Array(0);

/**
 * Frees a metric's native family once the JS object is unreachable. A metric that left every
 * registry is still usable (prom-client lets it be re-registered, its values kept), so leaving
 * the registries frees nothing; being collected does: the core drops the family (series, label
 * arena, exemplars, pages) and hands back its shard slots for this thread's next series.
 */
const families = new FinalizationRegistry<number>((familyId) => {
  // Batched: a GC often collects thousands of metrics at once; one core call releases them, after
  // this turn's callbacks (a microtask where a vm context has no setImmediate).
  if (released.push(familyId) === 1) (globalThis.setImmediate ?? queueMicrotask)(releaseFamilies);
});
const released: number[] = [];

function releaseFamilies(): void {
  const ids = released.splice(0);
  shard().releaseRuns(native.familyReleaseMany(ids));
}

/** Base class of Counter, Gauge, Histogram and Summary. */
export abstract class Metric<T extends string = string> {
  /** Metric name. */
  readonly name: string;
  /** Help text, as given. */
  readonly help: string;
  /** Label names in declaration order. */
  readonly labelNames: readonly T[];
  /** Cross-thread aggregator. */
  readonly aggregator: Aggregator;
  /** prom-client's type word: `counter`, `gauge`, `histogram` or `summary`. */
  abstract readonly type: MetricType;
  /** Whether updates accept exemplars. */
  readonly enableExemplars: boolean;
  /** The collect callback, if any. */
  readonly collect?: CollectFunction<this>;
  /** Whether partial label sets and non-string values are refused (see `MetricConfiguration.strict`). */
  readonly strict: boolean;

  /** `Counter`, `Gauge`…: the start of {@link what}. */
  readonly #kind: string;
  /** This thread's shard (its `chunks` array is shared and only grows). */
  protected readonly shard: Shard;
  /** Chunks of the shard, cached for the hot path. */
  protected readonly chunks: Float64Array[];
  /** Slots per series. */
  protected readonly width: number;
  /** Address of each series' first slot, by series index. */
  protected addrs: Int32Array = NO_ADDRS;
  /** Series index of the unlabelled series, or -1. */
  protected index0 = -1;
  /**
   * Chunk and offset of the unlabelled series while it exists (the unlabelled hot paths); while
   * it does not, `NO_CHUNK` (empty) and -1, so `o0 >= 0` (or `c0.length > 0`) tells. Never
   * `undefined`: a field that only ever holds Float64Arrays lets the optimised hot paths skip a
   * map check.
   */
  protected c0: Float64Array = NO_CHUNK;
  protected o0 = -1;
  /** Bumped whenever series are removed, so cached children re-resolve. */
  protected generation = 0;
  /** Native family id. */
  readonly familyId: number;

  /** Label values → series index (see labels.ts). */
  protected tree: LabelTree = NO_LABELS_TREE;
  /** Compiled walk of `tree`; subclasses call it inline on their hot paths. */
  protected lookup: Lookup = NOT_COMPILED;
  #nextIndex = 0;
  #orderSet = false;
  readonly #freeIndexes: number[] = [];
  /** Registries holding this metric (an array: most metrics are in one; a Set per metric cost more). */
  readonly #registries: Registry[] = [];

  protected constructor(kind: string, config: MetricConfiguration<T>, shape: FamilyShape) {
    if (typeof config !== 'object' || config === null) {
      throw new InvalidMetricError(`${kind}: configuration must be an object, got ${show(config)}`);
    }
    const name = config.name;
    if (!validateMetricName(name)) {
      throw new InvalidMetricError(`${kind}: invalid metric name ${show(name)} (must match [a-zA-Z_:][a-zA-Z0-9_:]*)`);
    }
    this.#kind = kind;
    const what = `${kind} "${name}"`;
    if (typeof config.help !== 'string' || config.help === '') {
      throw new InvalidMetricError(`${what}: help must be a non-empty string, got ${show(config.help)}`);
    }
    if (hasLoneSurrogate(config.help)) {
      throw new InvalidMetricError(`${what}: help ${loneSurrogateProblem(config.help)}`);
    }
    const aggregator = config.aggregator ?? 'sum';
    if (!AGGREGATORS.includes(aggregator)) {
      throw new InvalidMetricError(`${what}: aggregator ${show(aggregator)} is not one of [${AGGREGATORS.join(', ')}]`);
    }
    if (config.collect !== undefined && typeof config.collect !== 'function') {
      throw new InvalidMetricError(`${what}: collect must be a function, got ${show(config.collect)}`);
    }
    const registers = config.registers ?? [getGlobalRegistry()];
    if (!Array.isArray(registers)) {
      throw new InvalidMetricError(`${what}: registers must be an array of registries, got ${show(registers)}`);
    }
    this.name = name;
    this.help = config.help;
    this.labelNames = Object.freeze(checkLabelNames(what, config.labelNames, shape.reserved)) as readonly T[];
    this.aggregator = aggregator;
    this.enableExemplars = config.enableExemplars === true;
    if (config.strict !== undefined && typeof config.strict !== 'boolean') {
      throw new InvalidMetricError(`${what}: strict must be a boolean, got ${show(config.strict)}`);
    }
    this.strict = config.strict ?? registers.some((r) => r.strict === true);
    this.collect = config.collect as CollectFunction<this> | undefined;
    this.shard = shard();
    this.chunks = this.shard.chunks;
    // The common fields as arguments, the type's own in an object only when there are any: each
    // property of an object crossing the boundary costs a napi call (issue 17).
    const native_ = shape.native;
    const options: NativeTypes.TypeOptions | undefined =
      shape.type === 'counter' || shape.type === 'gauge'
        ? undefined
        : {
            buckets: shape.buckets,
            quantiles: shape.quantiles,
            maxAgeSeconds: shape.maxAgeSeconds,
            ageBuckets: shape.ageBuckets,
            nativeSchema: native_?.schema,
            nativeZeroThreshold: native_?.zeroThreshold,
            nativeMaxBuckets: native_?.maxBuckets,
            nativeMinResetSeconds: native_ === undefined ? undefined : native_.minResetMs / 1000,
          };
    this.familyId = native.familyAdd(
      this.shard.id,
      name,
      config.help,
      // The core's string enums are const enums in the generated types; the strings are the same.
      shape.type as unknown as NativeTypes.MetricType,
      this.labelNames as unknown as string[],
      aggregator as unknown as NativeTypes.Aggregator,
      options,
    );
    this.width = seriesWidth(shape);
    // Checked here, before any registry holds the metric, so a refusal registers nothing.
    if (this.enableExemplars && registers.some((r) => r.contentType !== OPENMETRICS_CONTENT_TYPE)) {
      throw new InvalidMetricError(
        `${what}: exemplars are supported only on OpenMetrics registries (new Registry(Registry.OPENMETRICS_CONTENT_TYPE))`,
      );
    }
    this.#registerAll(registers);
    families.register(this, this.familyId);
  }

  /** Adds the metric to every registry, or (when one refuses it) to none. */
  #registerAll(registers: Registry[]): void {
    const done: Registry[] = [];
    try {
      for (const r of registers) if (r.add(this as unknown as Metric<string>)) done.push(r);
    } catch (err) {
      for (const r of done) r.removeSingleMetric(this.name);
      native.familyDrop(this.familyId);
      throw err;
    }
  }

  /** `Counter "name"`, for error messages (built when needed: a string kept per metric showed). */
  protected get what(): string {
    return `${this.#kind} "${this.name}"`;
  }

  /** @internal `Counter "name"`, for messages of the registries. */
  get description(): string {
    return this.what;
  }

  /** @internal Registries this metric is in (maintained by Registry). */
  get registries(): ReadonlySet<Registry> {
    return new Set(this.#registries);
  }

  /** @internal Called by Registry. */
  attach(registry: Registry): void {
    if (!this.#registries.includes(registry)) this.#registries.push(registry);
  }

  /** @internal Called by Registry. */
  detach(registry: Registry): void {
    const i = this.#registries.indexOf(registry);
    if (i >= 0) this.#registries.splice(i, 1);
  }

  /**
   * The address of the series for `labels` (created on first use). `labels` undefined means the
   * unlabelled series. This is the hot path: one compiled Map walk, no allocation.
   */
  protected addrOf(labels: object | undefined): number {
    if (labels === undefined) {
      const i0 = this.index0 >= 0 ? this.index0 : this.indexOf({});
      return this.addrs[i0];
    }
    // Index first: creating a series may replace `this.addrs`, so read it afterwards.
    const i = this.lookup(this.tree, labels) ?? this.indexOf(labels);
    return this.addrs[i];
  }

  /**
   * Slow path: validates `labels` and finds or creates the series; returns its index. Each label
   * is read once, in declaration order, into a reused scratch pair (see `takeScratch`); what a
   * new series allocates is its tree entries and, for a number, its string form.
   */
  protected indexOf(labels: object): number {
    const names = this.labelNames as readonly string[];
    const n = names.length;
    const s = takeScratch(n);
    // On a throw the pair is dropped (the next call makes a new one).
    readLabelValues(this, names, labels, this.strict, s.values, s.raw);
    let index: number;
    if (n === 0) {
      if (this.index0 < 0) {
        this.index0 = this.createSeries(s.values);
        const addr = this.addrs[this.index0];
        this.c0 = this.chunks[addr >>> CHUNK_SHIFT];
        this.o0 = addr & CHUNK_MASK;
      }
      index = this.index0;
    } else {
      if (this.lookup === NOT_COMPILED) {
        this.tree = new Map();
        this.lookup = compileLookup(names);
        this.compileHotPaths(names);
      }
      const found = find(this.tree, s.values);
      if (found === undefined) {
        if (!this.#orderSet) this.#recordOrder(labels as Record<string, unknown>);
        index = this.createSeries(s.values);
      } else index = found;
      insert(this.tree, names, s.raw, s.values, index);
    }
    giveScratch(n, s);
    return index;
  }

  /**
   * prom-client writes labels in the key order of the call that created the series; the core
   * writes this metric's in the order of its first labelled call (see native/src/label_order.rs).
   */
  #recordOrder(raw: Record<string, unknown>): void {
    this.#orderSet = true;
    const names = this.labelNames as readonly string[];
    const order = Object.keys(raw).filter((k) => names.includes(k));
    for (const n of names) if (!order.includes(n)) order.push(n);
    native.labelOrderSet(this.name, order);
  }

  /** Registers a new series with the core; returns its index (`values`: one per label name). */
  protected createSeries(values: readonly LabelValue[]): number {
    const index = this.#freeIndexes.pop() ?? this.#nextIndex++;
    if (index >= this.addrs.length) {
      const grown =
        this.addrs.length === 0
          ? firstAddrs(this.labelNames.length === 0 ? 1 : SERIES_ADDR_INITIAL)
          : new Int32Array(this.addrs.length * 2);
      grown.set(this.addrs);
      this.addrs = grown;
    }
    const addr = this.shard.alloc(this.width);
    native.seriesAdd(
      this.familyId,
      index,
      // The core takes `undefined` as a missing label, as it takes `null`.
      values as LabelValue[],
      this.shard.nativeChunk(addr),
      addr & CHUNK_MASK,
    );
    this.addrs[index] = addr;
    this.initSeries(index, addr);
    return index;
  }

  /**
   * Hook run once, when the first labelled series is created: a type may install its own
   * per-metric hot methods (see `compileUpdate` in labels.ts).
   */
  protected compileHotPaths(_names: readonly string[]): void {}

  /** Hook for types whose series start with non-zero slots or need side state. */
  protected initSeries(_index: number, _addr: number): void {}

  /** Hook for types with side state per series. */
  protected dropSeries(_index: number): void {}

  /** The series index for a label set, validating it; for the slow APIs. */
  protected seriesIndex(labels: object | undefined): number {
    return labels === undefined ? this.indexOf({}) : (this.lookup(this.tree, labels) ?? this.indexOf(labels));
  }

  /** Label sets of every live series (`undefined`: the unlabelled one), for slow maintenance. */
  protected seriesLabels(): (Record<string, string> | undefined)[] {
    const out: (Record<string, string> | undefined)[] = [];
    if (this.index0 >= 0) out.push(undefined);
    const names = this.labelNames;
    const walk = (m: LabelTree, depth: number, acc: Record<string, string>): void => {
      for (const [k, v] of m) {
        // Numeric and other primitive aliases point at series already reached by their string.
        if (k !== undefined && typeof k !== 'string') continue;
        const next = { ...acc };
        if (k !== undefined) next[names[depth]] = k;
        if (depth === names.length - 1) out.push(next);
        else walk(v as LabelTree, depth + 1, next);
      }
    };
    if (names.length > 0) walk(this.tree, 0, {});
    return out;
  }

  /** The index of the series of `labels` (as `seriesLabels` returns them), if it exists. */
  protected seriesIndexOf(labels: Record<string, string>): number | undefined {
    return find(
      this.tree,
      this.labelNames.map((n) => labels[n]),
    );
  }

  /** Chunk holding an address. */
  protected chunkOf(addr: number): Float64Array {
    return this.chunks[addr >>> CHUNK_SHIFT];
  }

  /** Creates the series for `labels` with zero values (prom-client's `zero`). */
  zero(labels?: LabelValues<T>): void {
    const addr = this.addrOf(labels);
    this.chunkOf(addr).fill(0, addr & CHUNK_MASK, (addr & CHUNK_MASK) + this.width);
    this.initSeries(this.seriesIndex(labels), addr);
  }

  /**
   * Removes one series: `remove({ method: 'GET' })` or positional `remove('GET')`.
   * Unknown label sets are ignored; invalid ones throw.
   */
  remove(...args: [LabelValues<T>] | (string | number)[]): void {
    const raw =
      args.length === 1 && typeof args[0] === 'object' && args[0] !== null
        ? (args[0] as Record<string, unknown>)
        : labelsFromPositional(this.what, this.labelNames, args);
    const values = labelValuesOf(this, this.labelNames, raw, this.strict);
    const index = values.length === 0 ? (this.index0 >= 0 ? this.index0 : undefined) : find(this.tree, values);
    if (index === undefined) return;
    if (values.length === 0) {
      this.index0 = -1;
      this.c0 = NO_CHUNK;
      this.o0 = -1;
    } else removeFromTree(this.tree, values);
    this.release(index);
  }

  /** Removes every series; an unlabelled metric starts again from zero. */
  reset(): void {
    native.familyClear(this.familyId);
    const seen = new Set<number>();
    const walk = (m: LabelTree, depth: number): void => {
      for (const v of m.values()) {
        if (depth === this.labelNames.length - 1) seen.add(v as number);
        else walk(v as LabelTree, depth + 1);
      }
    };
    if (this.labelNames.length > 0) walk(this.tree, 0);
    if (this.index0 >= 0) seen.add(this.index0);
    this.tree.clear();
    this.index0 = -1;
    this.c0 = NO_CHUNK;
    this.o0 = -1;
    for (const index of seen) this.release(index, false);
    // The core's familyClear empties its series table, and it only accepts a new index that is
    // free and at most one past its end: number series densely from 0 again.
    this.#freeIndexes.length = 0;
    this.#nextIndex = 0;
    // As in prom-client, the next series' first call decides the label order again.
    this.#orderSet = false;
    this.afterReset();
  }

  /** Hook: prom-client recreates the unlabelled series of counters and gauges on reset. */
  protected afterReset(): void {}

  private release(index: number, tellCore = true): void {
    if (tellCore) native.seriesRemove(this.familyId, index);
    this.dropSeries(index);
    this.shard.free(this.addrs[index], this.width);
    this.#freeIndexes.push(index);
    this.generation++;
  }

  /** Builds a label-set from `labels(...)` arguments. */
  protected childLabels(args: unknown[]): Record<string, unknown> {
    if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null) return args[0] as Record<string, unknown>;
    return labelsFromPositional(this.what, this.labelNames, args);
  }

  /** @internal The child's cached address, refreshed after removals. */
  resolveChild(labels: Record<string, unknown>): { addr: number; generation: number } {
    return { addr: this.addrOf(labels), generation: this.generation };
  }

  /** @internal Current generation (see `generation`). */
  currentGeneration(): number {
    return this.generation;
  }

  /** Validates an update's exemplar labels; returns them as `[name, value, …]` for `setExemplar`. */
  protected exemplarLabelsOf(exemplarLabels: unknown): string[] {
    if (typeof exemplarLabels !== 'object' || exemplarLabels === null) {
      throw new InvalidLabelsError(`${this.what}: exemplarLabels must be an object, got ${show(exemplarLabels)}`);
    }
    const flat: string[] = [];
    let length = 0;
    for (const [k, v] of Object.entries(exemplarLabels)) {
      if (!LABEL_NAME.test(k)) throw new InvalidLabelsError(`${this.what}: exemplar label name ${show(k)} is invalid`);
      const s = String(v);
      if (hasLoneSurrogate(s))
        throw new InvalidLabelsError(`${this.what}: exemplar label "${k}" ${loneSurrogateProblem(s)}`);
      // Valid OpenMetrics, but prometheus_client's parser (Debian's 0.16) ends an exemplar's
      // labels at the first "}", inside the value or not, and rejects the whole scrape.
      if (s.includes('}'))
        throw new InvalidLabelsError(
          `${this.what}: exemplar label "${k}" value ${show(s)} contains "}", which OpenMetrics parsers misread in an exemplar`,
        );
      length += k.length + s.length;
      flat.push(k, s);
    }
    // OpenMetrics caps an exemplar's label set at 128 UTF-8 characters.
    if (length > 128) {
      throw new InvalidLabelsError(`${this.what}: exemplar labels ${show(exemplarLabels)} exceed 128 characters`);
    }
    return flat;
  }

  /** Sends the exemplar of one update (labels from `exemplarLabelsOf`) to the core. */
  protected setExemplar(labels: object | undefined, slot: number, flat: string[], value: number): void {
    native.exemplarSet(this.familyId, this.seriesIndex(labels), slot, flat, value, Date.now() / 1000);
  }

  /**
   * The one `startTimer` (histograms, summaries, gauges): the returned function records the
   * elapsed seconds through `timed` and returns them. The clock is `process.hrtime()`, as in
   * prom-client (so fake timers that replace it apply), read through one reference taken at the
   * start: `process` is a dictionary-mode object and `performance` a getter on the global, and
   * on this machine `process.hrtime()` through a held reference costs ~24 ns against ~38 ns
   * looked up each time and ~42 ns for `performance.now()` (bench/RESULTS.md, issue 17).
   */
  protected timer(labels: object | undefined, startExtra?: object): (endLabels?: object, endExtra?: object) => number {
    const hrtime = process.hrtime;
    const t0 = hrtime();
    const s0 = t0[0];
    const n0 = t0[1];
    return (endLabels?: object, endExtra?: object) => {
      const t1 = hrtime();
      const seconds = t1[0] - s0 + (t1[1] - n0) / 1e9;
      this.timed(labels || endLabels ? mergeLabels(labels, endLabels) : undefined, seconds, startExtra, endExtra);
      return seconds;
    };
  }

  /** Records a timer's seconds (types with `startTimer` override it). */
  protected timed(_labels: object | undefined, _seconds: number, _startExtra?: object, _endExtra?: object): void {
    throw new TypeError(`${this.what}: no timer`);
  }

  /** Runs the collect callback, if any. */
  async runCollect(): Promise<void> {
    if (this.collect) await this.collect.call(this);
  }

  /**
   * This metric's values in prom-client's JSON shape, merged across the threads of this
   * process when the metric is in the global registry. Label values come back as strings.
   */
  async get(): Promise<MetricObjectWithValues<T>> {
    await this.runCollect();
    const global = getGlobalRegistry();
    // Date.now(): summary windows follow the clock observe() read (fake timers included).
    const snap = native.snapshotFamily(this.familyId, this.#registries.includes(global) ? 0 : undefined, Date.now());
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: (snap ? valuesOf<T>(snap, this.enableExemplars) : []) as MetricObjectWithValues<T>['values'],
    };
  }
}

/** A timer's start and end labels, the end's winning (kept out of the timer's closure). */
function mergeLabels(start: object | undefined, end: object | undefined): object {
  return { ...start, ...end };
}

function seriesWidth(shape: FamilyShape): number {
  return slotsPerSeries(shape.type, shape.buckets?.length ?? 0, shape.ageBuckets ?? 5, shape.native !== undefined);
}
