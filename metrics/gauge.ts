import { InvalidValueError, show } from '../errors';
import { compileUpdate, type LabelValues } from './labels';
import { Metric, type CollectFunction, type MetricConfiguration } from './metric';
import { CHUNK_MASK, CHUNK_SHIFT } from './shard';

/** Gauge options (prom-client's `GaugeConfiguration`). */
export interface GaugeConfiguration<T extends string> extends MetricConfiguration<T> {
  collect?: CollectFunction<Gauge<T>>;
}

/** A child bound to one label set (`gauge.labels(...)`). */
export interface GaugeChild {
  inc(value?: number): void;
  dec(value?: number): void;
  set(value: number): void;
  setToCurrentTime(): void;
  startTimer(): () => number;
}

function badValue(what: string, op: string, value: unknown): never {
  throw new InvalidValueError(`${what}: ${op} needs a number${op === 'set' ? '' : ' (not NaN)'}, got ${show(value)}`);
}

/** A value that can go up and down. */
export class Gauge<T extends string = string> extends Metric<T> {
  readonly type = 'gauge' as const;

  constructor(config: GaugeConfiguration<T>) {
    super('Gauge', config, { type: 'gauge', reserved: [] });
    if (this.labelNames.length === 0) this.index0 = this.indexOf({});
  }

  #addr(labels: object | undefined): number {
    return labels === undefined && this.index0 >= 0 ? this.addrs[this.index0] : this.addrOf(labels);
  }

  /** Sets the series of `labels` to `value` (NaN is allowed for gauges, as in Prometheus). */
  set(labels: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'object') this.#setLabelled(labels, value, false);
    else {
      if (typeof labels !== 'number') badValue(this.what, 'set', labels);
      const addr = this.#addr(undefined);
      this.chunks[addr >>> CHUNK_SHIFT][addr & CHUNK_MASK] = labels;
    }
  }

  /** Adds `value` (default 1). */
  inc(labels?: LabelValues<T> | number, value?: number): void {
    this.#add('inc', labels, value, 1);
  }

  /** Subtracts `value` (default 1). */
  dec(labels?: LabelValues<T> | number, value?: number): void {
    this.#add('dec', labels, value, -1);
  }

  #add(
    op: string,
    labels: LabelValues<T> | number | undefined,
    value: number | undefined,
    sign: number,
    walked = false,
  ): void {
    let l: object | undefined;
    if (typeof labels === 'object') l = labels;
    else value = labels;
    if (value === undefined) value = 1;
    // Checked before the lookup so that a refused update creates no series.
    else if (typeof value !== 'number' || Number.isNaN(value)) badValue(this.what, op, value);
    const addr = walked ? this.#created(l as object) : this.#addr(l);
    this.chunks[addr >>> CHUNK_SHIFT][addr & CHUNK_MASK] += sign * value;
  }

  /** Sets the gauge to the current Unix time in seconds. */
  setToCurrentTime(labels?: LabelValues<T>): void {
    if (labels === undefined) this.set(Date.now() / 1000);
    else this.set(labels, Date.now() / 1000);
  }

  /** Starts a timer; the returned function sets the gauge to the elapsed seconds and returns them. */
  startTimer(labels?: LabelValues<T>): (endLabels?: LabelValues<T>) => number {
    return this.timer(labels);
  }

  protected override timed(labels: object | undefined, seconds: number): void {
    if (labels === undefined) this.set(seconds);
    else this.set(labels as LabelValues<T>, seconds);
  }

  /** A child bound to one label set. */
  labels(...values: (string | number)[] | [LabelValues<T>]): GaugeChild {
    const labels = this.childLabels(values) as LabelValues<T>;
    this.seriesIndex(labels); // validate now, like prom-client
    return {
      inc: (value?: number) => this.inc(labels, value),
      dec: (value?: number) => this.dec(labels, value),
      set: (value: number) => this.set(labels, value),
      setToCurrentTime: () => this.setToCurrentTime(labels),
      startTimer: () => this.startTimer(labels),
    };
  }

  /**
   * Installs this gauge's own `set`, `inc` and `dec`, the label walk inline (`compileUpdate`),
   * for calls with a label object on an existing series; every other call goes to the
   * prototype's method. Left alone, as for `Counter.inc`: a method a subclass overrides or one
   * already set on the instance (a test's spy).
   */
  protected override compileHotPaths(names: readonly string[]): void {
    const proto = Object.getPrototypeOf(this) as Gauge<T>;
    const store = (op: string) =>
      `const addr = this.addrs[s]; this.chunks[addr >>> ${CHUNK_SHIFT}][addr & ${CHUNK_MASK}] ${op};`;
    if (!Object.hasOwn(this, 'set') && proto.set === Gauge.prototype.set) {
      const isNumber = (miss: string) => `if (typeof value !== 'number') ${miss}`;
      this.set = compileUpdate('set', names, isNumber, store('= value'), Gauge.prototype.set, Gauge.#slow.set);
    }
    // As in `#add`: a value left out is 1; NaN and non-numbers go to the slow path, which throws.
    const delta = (miss: string) =>
      `const d = value === undefined ? 1 : value; if (typeof d !== 'number' || d !== d) ${miss}`;
    if (!Object.hasOwn(this, 'inc') && proto.inc === Gauge.prototype.inc) {
      this.inc = compileUpdate('inc', names, delta, store('+= d'), Gauge.prototype.inc, Gauge.#slow.inc);
    }
    if (!Object.hasOwn(this, 'dec') && proto.dec === Gauge.prototype.dec) {
      this.dec = compileUpdate('dec', names, delta, store('-= d'), Gauge.prototype.dec, Gauge.#slow.dec);
    }
  }

  /** The compiled methods' ways out: the checks and series creation, without walking again. */
  static readonly #slow = {
    set(this: Gauge<string>, labels: object, value: unknown): void {
      this.#setLabelled(labels, value, true);
    },
    inc(this: Gauge<string>, labels: object, value: number | undefined): void {
      this.#add('inc', labels, value, 1, true);
    },
    dec(this: Gauge<string>, labels: object, value: number | undefined): void {
      this.#add('dec', labels, value, -1, true);
    },
  };

  /** `set(labels, value)`; `walked`: the compiled walk already missed (skip the lookup). */
  #setLabelled(labels: object, value: unknown, walked: boolean): void {
    if (typeof value !== 'number') badValue(this.what, 'set', value);
    const addr = walked ? this.#created(labels) : this.#addr(labels);
    this.chunks[addr >>> CHUNK_SHIFT][addr & CHUNK_MASK] = value;
  }

  /** The address of the series of `labels` after the compiled walk missed (finds or creates it). */
  #created(labels: object): number {
    // Index first: creating a series may replace `this.addrs`.
    const i = this.indexOf(labels);
    return this.addrs[i];
  }

  protected override afterReset(): void {
    if (this.labelNames.length === 0) this.index0 = this.indexOf({});
  }
}

// prom-client's namespaced types (type-only: nothing is emitted).
export declare namespace Gauge {
  /** A child bound to one label set. */
  interface Internal<T extends string = string> extends GaugeChild {
    startTimer(): (labels?: LabelValues<T>) => number;
  }
}
