// The Redis protocol (docs/REDIS-PROTOCOL.md) on the TypeScript side, free of I/O: keys, value
// strings, the scripts (the very files the Rust core embeds), the writer's state machine (§7) and
// error-storm throttling. A port of native/src/backend/{conn,field,writer,throttle}.rs; both
// writers must put the same bytes in Redis.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Items per script call: bounds the time one call blocks Redis (writer.rs MAX_ITEMS). */
export const MAX_ITEMS = 4096;

/** A Lua script of the protocol and its SHA1 (what EVALSHA names). */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

// Sources (backend/) and the build (dist/backend/) sit at different depths below the package root.
const SCRIPT_DIR = [join(__dirname, '..'), join(__dirname, '..', '..')]
  .map((root) => join(root, 'native', 'src', 'backend'))
  .find((dir) => existsSync(join(dir, 'apply.lua')));

let scripts: { apply: LuaScript; read: LuaScript } | undefined;

/** The apply and read scripts, loaded verbatim (so their SHA1 equals the Rust core's). */
export function luaScripts(): { apply: LuaScript; read: LuaScript } {
  if (scripts !== undefined) return scripts;
  if (SCRIPT_DIR === undefined) {
    throw new Error(`promsd: native/src/backend/apply.lua not found above ${__dirname}; the package is incomplete`);
  }
  const load = (file: string): LuaScript => {
    const source = readFileSync(join(SCRIPT_DIR, file), 'utf8');
    return { source, sha: createHash('sha1').update(source).digest('hex') };
  };
  scripts = { apply: load('apply.lua'), read: load('read.lua') };
  return scripts;
}

/** Key names of a prefix (§3). */
export class Keys {
  /** `promsd:{<prefix>}:`. */
  readonly base: string;

  constructor(prefix: string) {
    this.base = `promsd:{${prefix}}:`;
  }

  key(suffix: string): string {
    return this.base + suffix;
  }
}

/** `<name>|<part>|<labels>` (§4). */
export function field(name: string, part: string, labels: string): string {
  return `${name}|${part}|${labels}`;
}

/**
 * A value as the protocol writes it, byte for byte as the Rust core does (`{}` of an f64:
 * shortest round-trip digits, never an exponent), or `NaN`, `+Inf`, `-Inf`.
 */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  // Expand d.ddde±x into plain decimal notation.
  const neg = s[0] === '-';
  const mantissa = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const point = (dot < 0 ? mantissa.length : dot) + exp;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return neg ? `-${out}` : out;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a value string (the text before a space, if any); undefined when it is not one. */
export function parseValue(s: string): number | undefined {
  const sp = s.indexOf(' ');
  const t = sp < 0 ? s : s.slice(0, sp);
  switch (t) {
    case 'NaN':
    case 'nan':
      return NaN;
    case '+Inf':
    case 'inf':
    case '+inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
    case '-inf':
      return -Infinity;
  }
  return DECIMAL.test(t) ? Number(t) : undefined;
}

/** This process's values as read from the store (the shape of `native.backendSnapshot()`). */
export interface ProtocolSnapshot {
  metas: string[];
  series: string[];
  counts: number[];
  shape: number[];
  parts: string[];
  values: number[];
}

interface Cell {
  local: number;
  carry: number;
  acked: number;
}

interface SeriesState {
  name: string;
  labels: string;
  count: number;
  cells: Map<string, Cell>;
}

/** One counter-like item of a batch. */
export interface CounterItem {
  readonly cell: Cell;
  readonly field: string;
  readonly cum: number;
  readonly acked: number;
}

/** One script call's worth of items. */
export interface Chunk {
  counters: CounterItem[];
  gauges: [string, number][];
  deletes: string[];
  metas: [string, string][];
}

/** A flush's batch: one or more chunks, all in the same mode. */
export interface Batch {
  /** Seed mode (`s`): every counter-like field with its `acked` value. */
  seed: boolean;
  /** Known epoch (`''` = none). */
  epoch: string;
  chunks: Chunk[];
}

/** Reply status of one apply call. */
export type Status = 'ok' | 'epoch' | 'lost';

function chunkLength(c: Chunk): number {
  return c.counters.length + c.gauges.length + c.deletes.length + c.metas.length;
}

/**
 * The writer of one process (§7): cumulative values per counter-like field (with a carry over
 * resets), what Redis acknowledged, the gauges last sent. Bounded by the number of series,
 * whatever the length of an outage.
 */
export class Writer {
  #epoch = '';
  #seed = false;
  readonly #series = new Map<string, SeriesState>();
  readonly #gauges = new Map<string, number>();
  #gaugesNow = new Map<string, number>();
  readonly #metas = new Map<string, string>();
  #metasNow: [string, string][] = [];

  /** The epoch of the last `ok` reply (`''` before). */
  get epoch(): string {
    return this.#epoch;
  }

  /** Takes a snapshot in: updates local values, carrying over series that were reset. */
  update(snap: ProtocolSnapshot): void {
    const metas: [string, string][] = [];
    for (let i = 0; i < snap.metas.length; i += 2) metas.push([snap.metas[i], snap.metas[i + 1]]);
    this.#metasNow = metas;
    const gauges = new Map<string, number>();
    let p = 0;
    for (let s = 0; s < snap.counts.length; s++) {
      const name = snap.series[2 * s];
      const labels = snap.series[2 * s + 1];
      const nc = snap.shape[2 * s];
      const ng = snap.shape[2 * s + 1];
      if (nc > 0) {
        const key = `${name}|${labels}`;
        let st = this.#series.get(key);
        if (st === undefined) this.#series.set(key, (st = { name, labels, count: 0, cells: new Map() }));
        const count = snap.counts[s];
        if (count < st.count) {
          // The series restarted from zero here: keep what it had reached.
          for (const c of st.cells.values()) {
            c.carry += c.local;
            c.local = 0;
          }
        }
        st.count = count;
        for (let k = 0; k < nc; k++) {
          const part = snap.parts[p + k];
          let cell = st.cells.get(part);
          if (cell === undefined) st.cells.set(part, (cell = { local: 0, carry: 0, acked: 0 }));
          cell.local = snap.values[p + k];
        }
      }
      for (let k = nc; k < nc + ng; k++) gauges.set(field(name, snap.parts[p + k], labels), snap.values[p + k]);
      p += nc + ng;
    }
    this.#gaugesNow = gauges;
  }

  /** The batch to send now. */
  batch(): Batch {
    const chunks: Chunk[] = [{ counters: [], gauges: [], deletes: [], metas: [] }];
    const last = (): Chunk => {
      if (chunkLength(chunks[chunks.length - 1]) >= MAX_ITEMS)
        chunks.push({ counters: [], gauges: [], deletes: [], metas: [] });
      return chunks[chunks.length - 1];
    };
    for (const [name, json] of this.#metasNow) {
      if (this.#metas.get(name) !== json) last().metas.push([name, json]);
    }
    for (const st of this.#series.values()) {
      for (const [part, cell] of st.cells) {
        const cum = cell.carry + cell.local;
        if (this.#seed || !Object.is(cum, cell.acked)) {
          last().counters.push({ cell, field: field(st.name, part, st.labels), cum, acked: cell.acked });
        }
      }
    }
    for (const [f, v] of this.#gaugesNow) {
      const old = this.#gauges.get(f);
      if (old === undefined || !Object.is(old, v)) last().gauges.push([f, v]);
    }
    for (const f of this.#gauges.keys()) {
      if (!this.#gaugesNow.has(f)) last().deletes.push(f);
    }
    return { seed: this.#seed, epoch: this.#epoch, chunks };
  }

  /**
   * Records the replies of a batch's chunks (`undefined` for a chunk without a reply); true
   * when the writer must flush again at once (after `epoch` or `lost`).
   */
  onReplies(batch: Batch, replies: ([Status, string] | undefined)[]): boolean {
    let again = false;
    for (let i = 0; i < batch.chunks.length && i < replies.length; i++) {
      const r = replies[i];
      if (r === undefined) continue;
      const chunk = batch.chunks[i];
      const [status, epoch] = r;
      if (status === 'ok') {
        this.#epoch = epoch;
        this.#seed = false;
        for (const it of chunk.counters) it.cell.acked = it.cum;
        for (const [f, v] of chunk.gauges) this.#gauges.set(f, v);
        for (const f of chunk.deletes) this.#gauges.delete(f);
        for (const [n, j] of chunk.metas) this.#metas.set(n, j);
      } else if (status === 'epoch') {
        // Redis lost its data: resend everything, in full.
        this.#epoch = '';
        this.#seed = false;
        for (const st of this.#series.values()) for (const c of st.cells.values()) c.acked = 0;
        this.#gauges.clear();
        this.#metas.clear();
        return true;
      } else {
        // Our last_applied records expired: re-seed every counter-like field.
        this.#seed = true;
        this.#gauges.clear();
        this.#metas.clear();
        again = true;
      }
    }
    return again;
  }

  /** Number of tracked fields (counter-like cells and gauges): the writer's memory. */
  get size(): number {
    let n = this.#gaugesNow.size;
    for (const st of this.#series.values()) n += st.cells.size;
    return n;
  }
}

/** The apply script's ARGV (§7 step 2), after the six keys. */
export function applyArgs(
  batch: Batch,
  chunk: Chunk,
  a: { id: string; candidate: string; liveMs: number; retainMs: number; info: string },
): string[] {
  const args = [
    a.id,
    batch.epoch,
    a.candidate,
    batch.seed ? 's' : 'n',
    String(a.liveMs),
    String(a.retainMs),
    a.info,
    String(chunk.counters.length),
    String(chunk.gauges.length),
    String(chunk.deletes.length),
    String(chunk.metas.length),
  ];
  for (const it of chunk.counters) {
    args.push(it.field, formatValue(it.cum));
    if (batch.seed) args.push(formatValue(it.acked));
  }
  for (const [f, v] of chunk.gauges) args.push(f, formatValue(v));
  for (const f of chunk.deletes) args.push(f);
  for (const [n, j] of chunk.metas) args.push(n, j);
  return args;
}

interface ThrottleEntry {
  since: number;
  suppressed: number;
}

/**
 * Error-storm throttling (throttle.rs): the same error within a window is logged once; when the
 * window ends with repeats, one line says how many were suppressed.
 */
export class Throttle {
  readonly #windowMs: number;
  readonly #entries = new Map<string, ThrottleEntry>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  #summary(n: number, msg: string): string {
    return `suppressed ${n} similar error${n === 1 ? '' : 's'} in the last ${this.#windowMs / 1000}s: ${msg}`;
  }

  /** The lines to log for an occurrence of `msg` at `now` (ms, monotonic). */
  error(msg: string, now: number): string[] {
    const e = this.#entries.get(msg);
    if (e === undefined) {
      this.#entries.set(msg, { since: now, suppressed: 0 });
      return [msg];
    }
    if (now - e.since < this.#windowMs) {
      e.suppressed += 1;
      return [];
    }
    // A storm that goes on is one summary per window (this occurrence included); an error that
    // comes back after a quiet window is logged again.
    const n = e.suppressed;
    e.since = now;
    e.suppressed = 0;
    return n > 0 ? [this.#summary(n + 1, msg)] : [msg];
  }

  /** Summaries of windows that ended (call periodically). */
  tick(now: number): string[] {
    const out: string[] = [];
    for (const [msg, e] of this.#entries) {
      if (now - e.since < this.#windowMs) continue;
      if (e.suppressed > 0) {
        out.push(this.#summary(e.suppressed, msg));
        e.since = now;
        e.suppressed = 0;
      } else {
        this.#entries.delete(msg);
      }
    }
    return out;
  }

  /** Every pending summary now (recovery, close). */
  drain(now: number): string[] {
    const out: string[] = [];
    for (const [msg, e] of this.#entries) {
      if (e.suppressed > 0) {
        const n = e.suppressed;
        out.push(
          `suppressed ${n} similar error${n === 1 ? '' : 's'} in the last ${((now - e.since) / 1000).toFixed(0)}s: ${msg}`,
        );
      }
    }
    this.#entries.clear();
    return out;
  }
}
