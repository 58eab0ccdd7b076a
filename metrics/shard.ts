// This thread's shard of the store: fixed-size chunks of f64 slots in SharedArrayBuffers, each
// handed to the Rust core once. A series owns a contiguous run of slots inside one chunk and is
// addressed by one integer, `chunk << CHUNK_SHIFT | offset`, so a label lookup can end in a Smi
// and an update is `chunks[slot >>> CHUNK_SHIFT][slot & CHUNK_MASK] += v`: no FFI, no allocation.
//
// Only this thread writes these slots; the core reads them (relaxed 8-byte loads, which do not
// tear on x86-64/arm64), so readers never need this thread's event loop.
import { CHUNK_MASK, CHUNK_SHIFT, CHUNK_SLOTS } from './layout';
import { native } from './native';

export { CHUNK_MASK, CHUNK_SHIFT, CHUNK_SLOTS } from './layout';

class Shard {
  readonly id: number;
  /** Chunks by local index; `chunks[i]` has native id `chunkIds[i]`. */
  readonly chunks: Float64Array[] = [];
  readonly chunkIds: number[] = [];
  /** Native chunk id → local index (for slots the core hands back). */
  readonly #localOf = new Map<number, number>();
  #next = CHUNK_SLOTS; // forces a chunk on first allocation
  // Freed runs by length, reused before fresh slots (series removed by remove()/reset(), metrics
  // collected), oldest first, each once no scrape that could still show its old series runs.
  readonly #free = new Map<number, FreeList>();

  constructor() {
    // The realm tells the core whether this shard lives in a vm context (see native shardOpen).
    this.id = native.shardOpen(globalThis);
  }

  /** Allocates `n` zeroed contiguous slots; returns their address. */
  alloc(n: number): number {
    if (n > CHUNK_SLOTS) throw new RangeError(`a series cannot use more than ${CHUNK_SLOTS} slots (asked for ${n})`);
    const list = this.#free.get(n);
    if (list !== undefined && list.head < list.addrs.length) {
      if (list.seqs[list.head] <= native.oldestSnapshotReader()) {
        const addr = list.addrs[list.head++];
        if (list.head >= 1024 && list.head * 2 >= list.addrs.length) {
          list.addrs.splice(0, list.head);
          list.seqs.splice(0, list.head);
          list.head = 0;
        }
        this.chunks[addr >>> CHUNK_SHIFT].fill(0, addr & CHUNK_MASK, (addr & CHUNK_MASK) + n);
        return addr;
      }
    }
    if (this.#next + n > CHUNK_SLOTS) {
      const chunk = new Float64Array(new SharedArrayBuffer(CHUNK_SLOTS * 8));
      const id = native.chunkAttach(this.id, chunk);
      this.#localOf.set(id, this.chunks.length);
      this.chunkIds.push(id);
      this.chunks.push(chunk);
      this.#next = 0;
    }
    const addr = ((this.chunks.length - 1) << CHUNK_SHIFT) | this.#next;
    this.#next += n;
    return addr;
  }

  /**
   * Makes `n` slots at `addr` reusable (zeroed when reused). Call after the core forgot them.
   * A scrape that copied the store before that may still read them (the core reads snapshots
   * outside its lock): they are reused only once every such scrape is done (`seq`: the core's
   * `snapshotSeq()` after it forgot them).
   */
  free(addr: number, n: number, seq: number = native.snapshotSeq()): void {
    let list = this.#free.get(n);
    if (list === undefined) this.#free.set(n, (list = { addrs: [], seqs: [], head: 0 }));
    list.addrs.push(addr);
    list.seqs.push(seq);
  }

  /**
   * Makes reusable the slots the core handed back for a dropped family (`familyRelease`):
   * `[nativeChunk, offset, length]` triples. Runs of another shard's chunks are ignored.
   */
  releaseRuns(runs: readonly number[]): void {
    const seq = native.snapshotSeq();
    for (let i = 0; i + 2 < runs.length; i += 3) {
      const local = this.#localOf.get(runs[i]);
      if (local !== undefined) this.free((local << CHUNK_SHIFT) | runs[i + 1], runs[i + 2], seq);
    }
  }

  /** Native chunk id of an address. */
  nativeChunk(addr: number): number {
    return this.chunkIds[addr >>> CHUNK_SHIFT];
  }
}

/** Freed runs of one length, in the order they were freed (`head`: the next to reuse). */
interface FreeList {
  addrs: number[];
  /** `snapshotSeq()` when each was freed. */
  seqs: number[];
  head: number;
}

let current: Shard | undefined;

/** This thread's shard, opened on first use so that importing promsd costs nothing. */
export function shard(): Shard {
  return (current ??= new Shard());
}

export type { Shard };
