import { DuplicateMetricError, InvalidLabelsError, InvalidMetricError, show } from '../errors';
import { hasLoneSurrogate, loneSurrogateProblem } from './labels';
import type { Metric, MetricObjectWithValues, MetricValue } from './metric';
import { valuesOf } from './values';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { globalAggregate } from './aggregate-source';
import { native } from './native';

/** Content type of the Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Content type of OpenMetrics 1.0. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Content type of the Prometheus protobuf format (delimited `MetricFamily` messages). */
export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** One of the two text exposition content types (what `metrics()` returns). */
export type RegistryContentType = typeof PROMETHEUS_CONTENT_TYPE | typeof OPENMETRICS_CONTENT_TYPE;

/** Every content type `metricsBuffer()` encodes: the text ones and the protobuf format. */
export type ExpositionContentType = RegistryContentType | typeof PROTOBUF_CONTENT_TYPE;

/** Id of the process-wide registry in the core (native/src/store.rs GLOBAL_REGISTRY). */
const GLOBAL_ID = 0;

/**
 * A set of metrics exposed together (prom-client's `Registry`). The global registry (`register`)
 * is shared by every thread of the process: metrics of the same name registered in it from
 * several worker threads are exposed as one, their series summed (gauges: per `aggregator`).
 */
export class Registry {
  /** Content type of the Prometheus text format 0.0.4. */
  static get PROMETHEUS_CONTENT_TYPE(): typeof PROMETHEUS_CONTENT_TYPE {
    return PROMETHEUS_CONTENT_TYPE;
  }

  /** Content type of OpenMetrics 1.0. */
  static get OPENMETRICS_CONTENT_TYPE(): typeof OPENMETRICS_CONTENT_TYPE {
    return OPENMETRICS_CONTENT_TYPE;
  }

  /** A registry holding the metrics of all `registers` (their content types must agree). */
  static merge(registers: Registry[]): Registry {
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
    return merged;
  }

  readonly #metrics = new Map<string, Metric<string>>();
  #defaultLabels: Record<string, string> = {};
  #defaultLabelsFlat: string[] = [];
  #contentType: RegistryContentType;
  #id: number | undefined;

  constructor(contentType: RegistryContentType = PROMETHEUS_CONTENT_TYPE, id?: number) {
    this.#contentType = checkContentType(contentType);
    this.#id = id;
  }

  /** The core's id of this registry (allocated on first use). */
  get id(): number {
    return (this.#id ??= native.registryNew());
  }

  /** Content type `metrics()` produces. */
  get contentType(): RegistryContentType {
    return this.#contentType;
  }

  /** Switches the exposition format. */
  setContentType(contentType: RegistryContentType): void {
    this.#contentType = checkContentType(contentType);
  }

  /** Adds a metric; another metric with the same name throws. */
  registerMetric(metric: Metric<string>): void {
    const existing = this.#metrics.get(metric.name);
    if (existing === metric) return;
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
    this.#metrics.set(metric.name, metric);
    metric.attach(this);
  }

  /** The metrics registered here by this thread. */
  getMetricsAsArray(): Metric<string>[] {
    return [...this.#metrics.values()];
  }

  /** The metric named `name`, if registered here. */
  getSingleMetric(name: string): Metric<string> | undefined {
    return this.#metrics.get(name);
  }

  /** Removes the metric named `name`. */
  removeSingleMetric(name: string): void {
    const m = this.#metrics.get(name);
    if (m === undefined) return;
    native.registryRemove(this.id, m.familyId);
    this.#metrics.delete(name);
    m.detach(this);
  }

  /** Removes every metric and the default labels. */
  clear(): void {
    for (const name of [...this.#metrics.keys()]) this.removeSingleMetric(name);
    this.setDefaultLabels({});
  }

  /** Resets every metric's values. */
  resetMetrics(): void {
    for (const m of this.#metrics.values()) m.reset();
  }

  /** Labels added to every series that does not have a label of that name. */
  setDefaultLabels(labels: Record<string, string | number>): void {
    const flat: string[] = [];
    const copy: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.startsWith('__')) {
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
    const metrics = only ? [only] : [...this.#metrics.values()];
    await Promise.all(metrics.map((m) => m.runCollect()));
  }

  /**
   * The exposition, encoded by the core off this thread, in this registry's content type or in
   * `options.contentType` (what a server negotiating with its scraper passes).
   */
  async metrics(options?: { contentType?: RegistryContentType }): Promise<string> {
    const contentType = options?.contentType === undefined ? this.#contentType : checkContentType(options.contentType);
    await this.#collect();
    const backend = this.id === GLOBAL_ID ? globalAggregate() : undefined;
    if (backend !== undefined) {
      // The aggregate of every process (this one's pending values flushed first).
      return backend.render({
        openMetrics: contentType === OPENMETRICS_CONTENT_TYPE,
        defaultLabels: this.#defaultLabelsFlat,
      });
    }
    return native.encode({
      registry: this.id,
      openMetrics: contentType === OPENMETRICS_CONTENT_TYPE,
      defaultLabels: this.#defaultLabelsFlat,
    });
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
    if (protobuf && !this.encodesProtobuf()) {
      throw new InvalidMetricError(
        `Content type ${show(PROTOBUF_CONTENT_TYPE)} is unsupported by the backend that aggregates the global registry (use OpenMetrics)`,
      );
    }
    const contentType =
      options?.contentType === undefined || protobuf ? this.#contentType : checkContentType(options.contentType);
    if (options?.collect !== false) await this.#collect();
    const defaults =
      options?.defaultLabels === undefined ? this.#defaultLabelsFlat : Object.entries(options.defaultLabels).flat();
    const backend = this.id === GLOBAL_ID ? globalAggregate() : undefined;
    if (protobuf && backend?.renderProtobuf !== undefined) {
      const body = await backend.renderProtobuf({ defaultLabels: defaults });
      return options?.gzip === true && body.length >= 1024 ? gzipAsync(body, { level: 1 }) : body;
    }
    if (protobuf) {
      return native.encodeBuffer({
        registry: this.id,
        openMetrics: false,
        protobuf: true,
        defaultLabels: defaults,
        gzip: options?.gzip === true,
      });
    }
    if (backend !== undefined) {
      // The aggregate of every process (this one's pending values flushed first).
      const text = await backend.render({
        openMetrics: contentType === OPENMETRICS_CONTENT_TYPE,
        defaultLabels: defaults,
      });
      return exposition(text, options?.gzip === true);
    }
    return native.encodeBuffer({
      registry: this.id,
      openMetrics: contentType === OPENMETRICS_CONTENT_TYPE,
      defaultLabels: defaults,
      gzip: options?.gzip === true,
    });
  }

  /**
   * Whether `metricsBuffer()` can encode the protobuf format now: always, except for the global
   * registry while a backend that renders only text aggregates it (IoredisBackend; servers then
   * answer a protobuf request with OpenMetrics, the scraper's next choice).
   */
  encodesProtobuf(): boolean {
    const backend = this.id === GLOBAL_ID ? globalAggregate() : undefined;
    return backend === undefined || backend.renderProtobuf !== undefined;
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
    const m = this.#metrics.get(name);
    if (m === undefined) return '';
    await this.#collect(m);
    const out = await native.encode({
      registry: this.id,
      openMetrics: this.#contentType === OPENMETRICS_CONTENT_TYPE,
      defaultLabels: this.#defaultLabelsFlat,
      only: name,
    });
    // prom-client returns the family without the document terminator.
    return out.replace(/\n(# EOF\n)?$/, '');
  }

  /** Every metric's values in prom-client's JSON shape, default labels included. */
  async getMetricsAsJSON(): Promise<MetricObjectWithValues<string>[]> {
    await this.#collect();
    const defaults = Object.entries(this.#defaultLabels);
    return native.snapshotRegistry(this.id).map((snap) => {
      const values: MetricValue<string>[] = valuesOf(snap);
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
  if (t !== PROMETHEUS_CONTENT_TYPE && t !== OPENMETRICS_CONTENT_TYPE) {
    throw new InvalidMetricError(
      `Content type ${show(t)} is unsupported (use ${PROMETHEUS_CONTENT_TYPE} or ${OPENMETRICS_CONTENT_TYPE})`,
    );
  }
  return t;
}

let globalRegistry: Registry | undefined;

/** The process-wide default registry (prom-client's `register`). */
export function getGlobalRegistry(): Registry {
  return (globalRegistry ??= new Registry(PROMETHEUS_CONTENT_TYPE, GLOBAL_ID));
}

/** The process-wide default registry, shared by every thread (prom-client's `register`). */
export const register: Registry = getGlobalRegistry();
