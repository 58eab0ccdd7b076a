import { DuplicateMetricError, InvalidLabelsError, InvalidMetricError, show } from '../errors';
import { hasLoneSurrogate, loneSurrogateProblem } from './labels';
import type { Metric, MetricObjectWithValues, MetricValue } from './metric';
import { valuesOf } from './values';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { checkCollector, renderCollector, splitFamilies, type MetricCollector } from './collector';
import type * as NativeTypes from '../native/index';
import { native } from './native';
import { LABEL_NAME } from './validation';

/** Content type of the Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Content type of OpenMetrics 1.0. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Content type of the Prometheus protobuf format (delimited `MetricFamily` messages). */
export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** The charset of both content types. */
export type Charset = 'utf-8';
/** MIME type of the Prometheus text format. */
export type PrometheusMIME = 'text/plain';
/** Version of the Prometheus text format. */
export type PrometheusMetricsVersion = '0.0.4';
/** MIME type of OpenMetrics. */
export type OpenMetricsMIME = 'application/openmetrics-text';
/** Version of OpenMetrics. */
export type OpenMetricsVersion = '1.0.0';
/** Content type of the Prometheus text format 0.0.4. */
export type PrometheusContentType = `${PrometheusMIME}; version=${PrometheusMetricsVersion}; charset=${Charset}`;
/** Content type of OpenMetrics 1.0. */
export type OpenMetricsContentType = `${OpenMetricsMIME}; version=${OpenMetricsVersion}; charset=${Charset}`;
/** One of the two exposition content types. */
export type RegistryContentType = PrometheusContentType | OpenMetricsContentType;

/** Options of `new Registry(contentType, options)`. */
export interface RegistryOptions {
  /**
   * Metrics created with this registry in `registers` refuse partial label sets and label
   * values that are not strings or numbers (default: accept them, as prom-client does).
   */
  strict?: boolean;
}

/** A metric or a hand-written collector: what a registry holds. */
type Entry = Metric<string> | MetricCollector;

function isNative(m: Entry | undefined): m is Metric<string> {
  return typeof (m as Metric<string> | null)?.familyId === 'number';
}

let creatingGlobal = false;

/** Every content type `metricsBuffer()` encodes: the text ones and the protobuf format. */
export type ExpositionContentType = RegistryContentType | typeof PROTOBUF_CONTENT_TYPE;

/** Id of the process-wide registry in the core (native/src/store.rs GLOBAL_REGISTRY). */
const GLOBAL_ID = 0;

// The core's string enums are const enums in the generated types; the strings are the same.
const FORMAT_OF = {
  [PROMETHEUS_CONTENT_TYPE]: 'text',
  [OPENMETRICS_CONTENT_TYPE]: 'openmetrics',
  [PROTOBUF_CONTENT_TYPE]: 'protobuf',
} as unknown as Record<ExpositionContentType, NativeTypes.ExpositionFormat>;
const CONTENT_TYPE_OF = {
  text: PROMETHEUS_CONTENT_TYPE,
  openmetrics: OPENMETRICS_CONTENT_TYPE,
  protobuf: PROTOBUF_CONTENT_TYPE,
} as Record<NativeTypes.ExpositionFormat, ExpositionContentType>;

/** A scrape of a registry as the core answered it (see {@link Registry.exposition}). */
export interface Exposition {
  /** The bytes, gzipped when asked and worth it (tell with `isGzip`). */
  body: Buffer;
  /** Their format: the one asked for, or OpenMetrics for a protobuf request a JS backend cannot answer. */
  contentType: ExpositionContentType;
  /** Why the aggregate could not be read, when `body` is this process's own series instead. */
  fallback?: string;
}

/** Frees the core's registry of a collected `Registry` (only ids it allocated; never a `byId` view's). */
const registries = new FinalizationRegistry<number>((id) => native.registryDrop(id));

/**
 * A set of metrics exposed together (prom-client's `Registry`). The global registry (`register`)
 * is shared by every thread of the process: metrics of the same name registered in it from
 * several worker threads are exposed as one, their series summed (gauges: per `aggregator`).
 */
export class Registry<BoundRegistryContentType extends RegistryContentType = RegistryContentType> {
  /** Content type of the Prometheus text format 0.0.4. */
  static get PROMETHEUS_CONTENT_TYPE(): PrometheusContentType {
    return PROMETHEUS_CONTENT_TYPE;
  }

  /** Content type of OpenMetrics 1.0. */
  static get OPENMETRICS_CONTENT_TYPE(): OpenMetricsContentType {
    return OPENMETRICS_CONTENT_TYPE;
  }

  /** A registry holding the metrics of all `registers` (their content types must agree). */
  // biome-ignore lint/suspicious/noExplicitAny: registries of either content type merge.
  static merge(registers: Registry<any>[]): Registry {
    const types = new Set(registers.map((r) => r.contentType));
    if (types.size > 1)
      throw new InvalidMetricError(`Registry.merge: registries have different content types: ${[...types].join(', ')}`);
    const merged = new Registry([...types][0] ?? PROMETHEUS_CONTENT_TYPE);
    try {
      for (const r of registers) for (const m of r.getMetricsAsArray()) merged.registerMetric(m);
    } catch (err) {
      // Two metrics of one name, or whose names clash: the merged registry is not made.
      merged.clear();
      native.registryDrop(merged.id);
      throw err;
    }
    return merged as Registry;
  }

  /**
   * Everything registered, collectors included, in registration order (one map: a second one for
   * promsd's own metrics cost a Map insert per creation, issue 17).
   */
  readonly #all = new Map<string, Entry>();
  #collectors = 0;
  #defaultLabels: Record<string, string> = {};
  #defaultLabelsFlat: string[] = [];
  #contentType: BoundRegistryContentType;
  #id: number | undefined;
  /** See {@link RegistryOptions.strict}. */
  strict: boolean;

  constructor(contentType?: BoundRegistryContentType, options?: RegistryOptions) {
    this.#contentType = checkContentType(contentType ?? PROMETHEUS_CONTENT_TYPE) as BoundRegistryContentType;
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new InvalidMetricError(`Registry: options must be an object, got ${show(options)}`);
    }
    if (options?.strict !== undefined && typeof options.strict !== 'boolean') {
      throw new InvalidMetricError(`Registry: strict must be a boolean, got ${show(options.strict)}`);
    }
    this.strict = options?.strict === true;
    if (creatingGlobal) this.#id = GLOBAL_ID;
  }

  /** @internal A view on the core's registry `id` (a server thread's view on its owner's). */
  static byId(id: number): Registry {
    const r = new Registry();
    r.#id = id;
    return r;
  }

  /** The core's id of this registry (allocated on first use; freed when this object is collected). */
  get id(): number {
    if (this.#id === undefined) {
      this.#id = native.registryNew();
      registries.register(this, this.#id);
    }
    return this.#id;
  }

  /** Content type `metrics()` produces. */
  get contentType(): BoundRegistryContentType {
    return this.#contentType;
  }

  /** Switches the exposition format (for the global registry, the top-level `contentType` too). */
  setContentType(contentType: BoundRegistryContentType): void {
    this.#contentType = checkContentType(contentType) as BoundRegistryContentType;
    if (this === (globalRegistry as unknown)) globalContentType = this.#contentType;
  }

  /**
   * Adds a metric; another metric with the same name throws. Besides promsd's metrics, any
   * object of prom-client's metric shape (`name`, `help`, `type`, `get()`) is accepted: a
   * hand-written collector, whose `get()` is called at every scrape.
   */
  registerMetric(metric: Metric<string> | MetricCollector): void {
    this.add(metric);
  }

  /** @internal {@link registerMetric}; false when `metric` was already registered here. */
  add(metric: Metric<string> | MetricCollector): boolean {
    const existing = this.#all.get((metric as { name?: unknown } | null)?.name as string);
    if (existing === metric) return false;
    if (!isNative(metric)) {
      const c = checkCollector(metric);
      if (existing !== undefined) {
        throw new DuplicateMetricError(`A metric with the name ${c.name} has already been registered.`);
      }
      this.#all.set(c.name, c);
      this.#collectors++;
      return true;
    }
    if (existing !== undefined) {
      throw new DuplicateMetricError(`A metric with the name ${metric.name} has already been registered.`);
    }
    if (metric.enableExemplars && this.#contentType !== OPENMETRICS_CONTENT_TYPE) {
      throw new InvalidMetricError(
        `"${metric.name}": exemplars are supported only on OpenMetrics registries (new Registry(Registry.OPENMETRICS_CONTENT_TYPE))`,
      );
    }
    try {
      native.registryAdd(this.id, metric.familyId);
    } catch (err) {
      // Another thread registered this name with another shape: it could not be merged.
      throw new InvalidMetricError(`${metric.description}: ${(err as Error).message}`);
    }
    this.#all.set(metric.name, metric);
    metric.attach(this as Registry<RegistryContentType> as Registry);
    return true;
  }

  /** The metrics registered here by this thread (collectors included). */
  getMetricsAsArray(): Metric<string>[] {
    return [...this.#all.values()] as Metric<string>[];
  }

  /** The metric named `name`, if registered here. */
  getSingleMetric(name: string): Metric<string> | undefined {
    return this.#all.get(name) as Metric<string> | undefined;
  }

  /** Removes the metric named `name`. */
  removeSingleMetric(name: string): void {
    const entry = this.#all.get(name);
    if (entry === undefined) return;
    this.#all.delete(name);
    if (!isNative(entry)) {
      this.#collectors--;
      return;
    }
    native.registryRemove(this.id, entry.familyId);
    entry.detach(this as Registry<RegistryContentType> as Registry);
  }

  /** Removes every metric and the default labels. */
  clear(): void {
    for (const name of [...this.#all.keys()]) this.removeSingleMetric(name);
    this.setDefaultLabels({});
  }

  /** Resets every metric's values (collectors: their `reset()`, if they have one). */
  resetMetrics(): void {
    for (const m of this.#all.values()) m.reset?.();
  }

  /**
   * Splices the collectors' families into an exposition of the native metrics, in
   * registration order (families of other threads, unknown here, come last).
   */
  async #withCollectors(text: string, openMetrics: boolean): Promise<string> {
    if (this.#collectors === 0) return text;
    const blocks = splitFamilies(text);
    const out: string[] = [];
    for (const [name, m] of this.#all) {
      if (!isNative(m)) {
        out.push(await renderCollector(m, this.#defaultLabels, openMetrics));
        continue;
      }
      const key = openMetrics && m.type === 'counter' ? name.replace(/_total$/, '') : name;
      const block = blocks.get(key);
      if (block === undefined) continue;
      out.push(block);
      blocks.delete(key);
    }
    out.push(...blocks.values());
    return openMetrics ? `${out.join('\n')}\n# EOF\n` : `${out.join('\n\n')}\n`;
  }

  /** Labels added to every series that does not have a label of that name. */
  setDefaultLabels(labels: Record<string, string | number>): void {
    const flat: string[] = [];
    const copy: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_NAME.test(k) || k.startsWith('__')) {
        throw new InvalidMetricError(`setDefaultLabels: label name ${show(k)} is invalid`);
      }
      const value = String(v);
      if (hasLoneSurrogate(value)) {
        throw new InvalidLabelsError(`setDefaultLabels: label "${k}" ${loneSurrogateProblem(value)}`);
      }
      copy[k] = value;
      flat.push(k, value);
    }
    this.#defaultLabels = copy;
    this.#defaultLabelsFlat = flat;
  }

  async #collect(only?: Metric<string>): Promise<void> {
    const metrics = only ? [only] : [...this.#all.values()].filter(isNative);
    await Promise.all(metrics.map((m) => m.runCollect()));
  }

  /**
   * The exposition, encoded by the core off this thread, in this registry's content type or in
   * `options.contentType` (what a server negotiating with its scraper passes).
   */
  async metrics(options?: { contentType?: RegistryContentType }): Promise<string> {
    const contentType = options?.contentType === undefined ? this.#contentType : checkContentType(options.contentType);
    await this.#collect();
    const openMetrics = contentType === OPENMETRICS_CONTENT_TYPE;
    // One path for every registry: the core says whether the global registry is the aggregate
    // of every process (a backend is open in this process, whichever thread loaded it) or the
    // local view. The answer comes as a string (a large ASCII one is external: not copied).
    const r = await native.routeRender({
      registry: this.id,
      format: FORMAT_OF[contentType],
      defaultLabels: this.#defaultLabelsFlat,
      nowMs: Date.now(),
      asText: true,
    });
    const text = r.text ?? r.body.toString('utf8');
    return this.#withCollectors(text, openMetrics);
  }

  /**
   * The exposition as UTF-8 bytes: what servers send. Unlike `metrics()` it builds no JS string,
   * so a large exposition costs the calling thread next to nothing. `options.collect: false` skips
   * the metrics' `collect` callbacks (a server in a worker thread cannot run the owning thread's).
   */
  async metricsBuffer(options?: {
    contentType?: ExpositionContentType;
    collect?: boolean;
    defaultLabels?: Record<string, string>;
    /** gzip in the same off-thread task (from 1 KiB; smaller results come back plain — test with `isGzip`). */
    gzip?: boolean;
  }): Promise<Buffer> {
    const protobuf = options?.contentType === PROTOBUF_CONTENT_TYPE;
    const refused = (): InvalidMetricError =>
      new InvalidMetricError(
        `Content type ${show(PROTOBUF_CONTENT_TYPE)} is unsupported by the backend that aggregates the global registry (use OpenMetrics)`,
      );
    if (protobuf && !this.encodesProtobuf()) throw refused();
    const contentType: ExpositionContentType = protobuf
      ? PROTOBUF_CONTENT_TYPE
      : options?.contentType === undefined
        ? this.#contentType
        : checkContentType(options.contentType);
    const r = await this.exposition({ ...options, contentType });
    // A JS backend that renders text only was loaded since the check above.
    if (r.contentType !== contentType) throw refused();
    return r.body;
  }

  /**
   * @internal The exposition as the core routes it: the global registry through the backend
   * open in this process (from any thread), every other registry from this process's store.
   * `fallback: true` (servers) answers a failed read of the aggregate with this process's own
   * series and the cause instead of rejecting.
   */
  async exposition(options: {
    contentType: ExpositionContentType;
    collect?: boolean;
    defaultLabels?: Record<string, string>;
    gzip?: boolean;
    fallback?: boolean;
  }): Promise<Exposition> {
    if (options.collect !== false) await this.#collect();
    const defaults =
      options.defaultLabels === undefined ? this.#defaultLabelsFlat : Object.entries(options.defaultLabels).flat();
    // Collectors are spliced into the text (the protobuf format carries the native metrics only).
    const splice = this.#collectors > 0 && options.contentType !== PROTOBUF_CONTENT_TYPE;
    const gzip = options.gzip === true;
    const r = await native.routeRender({
      registry: this.id,
      format: FORMAT_OF[options.contentType],
      defaultLabels: defaults,
      gzip: gzip && !splice,
      nowMs: Date.now(),
      fallback: options.fallback === true,
    });
    const contentType = CONTENT_TYPE_OF[r.format];
    let body = r.body;
    if (splice) {
      const openMetrics = contentType === OPENMETRICS_CONTENT_TYPE;
      body = await exposition(await this.#withCollectors(body.toString('utf8'), openMetrics), gzip);
    }
    return r.fallback === undefined ? { body, contentType } : { body, contentType, fallback: r.fallback };
  }

  /**
   * Whether `metricsBuffer()` can encode the protobuf format now: always, except for the global
   * registry while a JS backend that renders only text aggregates it (servers then answer a
   * protobuf request with OpenMetrics, the scraper's next choice).
   */
  encodesProtobuf(): boolean {
    return native.routeEncodesProtobuf(this.id);
  }

  /** Runs the `collect` callback of every metric registered here by this thread. */
  async collect(): Promise<void> {
    await this.#collect();
  }

  /** The default labels set with `setDefaultLabels`. */
  getDefaultLabels(): Record<string, string> {
    return { ...this.#defaultLabels };
  }

  /** The exposition of one metric. */
  async getSingleMetricAsString(name: string): Promise<string> {
    const entry = this.#all.get(name);
    if (entry !== undefined && !isNative(entry)) {
      return renderCollector(entry, this.#defaultLabels, this.#contentType === OPENMETRICS_CONTENT_TYPE);
    }
    if (entry === undefined) return '';
    await this.#collect(entry);
    const out = await native.encode({
      registry: this.id,
      openMetrics: this.#contentType === OPENMETRICS_CONTENT_TYPE,
      defaultLabels: this.#defaultLabelsFlat,
      only: name,
      nowMs: Date.now(),
    });
    // prom-client returns the family without the document terminator.
    return out.replace(/\n(# EOF\n)?$/, '');
  }

  /** Every metric's values in prom-client's JSON shape, default labels included. */
  async getMetricsAsJSON(): Promise<MetricObjectWithValues<string>[]> {
    await this.#collect();
    const defaults = Object.entries(this.#defaultLabels);
    const natives = native.snapshotRegistry(this.id, Date.now()).map((snap): MetricObjectWithValues<string> => {
      const entry = this.#all.get(snap.name);
      const values: MetricValue<string>[] = valuesOf(snap, isNative(entry) && entry.enableExemplars);
      // As in the exposition: `le` and `quantile` belong to the type's own samples.
      const own = snap.kind === 'histogram' ? 'le' : snap.kind === 'summary' ? 'quantile' : undefined;
      if (defaults.length > 0) {
        for (const v of values) {
          const labels: Record<string, string | number | undefined> = { ...v.labels };
          for (const [k, d] of defaults) if (labels[k] === undefined && k !== own) labels[k] = d;
          v.labels = labels as MetricValue<string>['labels'];
        }
      }
      return {
        name: snap.name,
        help: snap.help,
        type: snap.kind as MetricObjectWithValues<string>['type'],
        aggregator: snap.aggregator as MetricObjectWithValues<string>['aggregator'],
        values,
      };
    });
    if (this.#collectors === 0) return natives;
    const byName = new Map(natives.map((m) => [m.name, m]));
    const out: MetricObjectWithValues<string>[] = [];
    for (const [name, m] of this.#all) {
      if (isNative(m)) {
        const snap = byName.get(name);
        if (snap !== undefined) out.push(snap);
        byName.delete(name);
        continue;
      }
      const item = await m.get();
      if (defaults.length > 0) {
        for (const v of item.values ?? []) {
          const labels: Record<string, unknown> = { ...v.labels };
          for (const [k, d] of defaults) labels[k] = labels[k] || d;
          v.labels = labels as MetricValue<string>['labels'];
        }
      }
      out.push(item);
    }
    out.push(...byName.values());
    return out;
  }
}

const gzipAsync = promisify(gzip);

/**
 * An exposition rendered as a string (by a backend) as bytes, gzipped on the libuv pool when
 * asked and worth it (from 1 KiB), like the core's `encodeBuffer`.
 */
export async function exposition(text: string, wantGzip: boolean): Promise<Buffer> {
  const bytes = Buffer.from(text, 'utf8');
  if (!wantGzip || bytes.length < 1024) return bytes;
  return gzipAsync(bytes, { level: 1, chunkSize: Math.max(16 * 1024, bytes.length) });
}

/** True when `body` starts with the gzip magic bytes (an exposition never does). */
export function isGzip(body: Uint8Array): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
}

function checkContentType(t: unknown): RegistryContentType {
  // prom-client's message (users' tests match it as a substring), then the two accepted values.
  if (t !== PROMETHEUS_CONTENT_TYPE && t !== OPENMETRICS_CONTENT_TYPE) {
    throw new InvalidMetricError(
      `Content type ${String(t)} is unsupported (use ${PROMETHEUS_CONTENT_TYPE} or ${OPENMETRICS_CONTENT_TYPE})`,
    );
  }
  return t;
}

let globalRegistry: Registry | undefined;

/**
 * The global registry's content type (prom-client's top-level `contentType`); a live binding
 * that follows `register.setContentType(...)`.
 */
export let globalContentType: RegistryContentType = PROMETHEUS_CONTENT_TYPE;

/** The process-wide default registry (prom-client's `register`). */
export function getGlobalRegistry(): Registry {
  if (globalRegistry === undefined) {
    creatingGlobal = true;
    try {
      globalRegistry = new Registry(PROMETHEUS_CONTENT_TYPE);
    } finally {
      creatingGlobal = false;
    }
  }
  return globalRegistry;
}

/** The process-wide default registry, shared by every thread (prom-client's `register`). */
export const register: Registry = getGlobalRegistry();
