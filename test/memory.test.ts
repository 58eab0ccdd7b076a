import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireBuild, ROOT } from './helpers/build';

// Native memory that outlives its metrics (issue 17). Each check runs bench/cases/memory-churn.mjs
// (the bench's own script, so the test and the RESULTS.md row measure the same thing) in a fresh
// `node --expose-gc` process against the built package. The script itself asserts the exact
// figures that must hold (the core's family and registry counts back to their baseline, every
// finished worker's increment in the total); the test bounds the rss growth generously, so a leak
// fails while the noise of rss does not. Before the fix: +524 MB for the drop case at 10 × 100k,
// +125 MB for 1,000 workers (the bench rows have the exact figures now).
requireBuild();

function churn(...args: string[]): { median: number; rounds?: number[] } {
  const out = execFileSync(
    process.execPath,
    // As the bench runs it: a fixed young generation, so V8's heap sizing does not read as a leak.
    ['--expose-gc', '--max-semi-space-size=1', join(ROOT, 'bench/cases/memory-churn.mjs'), 'promsd', ...args],
    { encoding: 'utf8', cwd: ROOT, timeout: 170_000 },
  );
  return JSON.parse(out.trim().split('\n').at(-1) as string);
}

describe('memory of dropped metrics and finished threads', () => {
  it('creating and dropping 50k metrics four times (clear, removeSingleMetric, registers: [], a dropped Registry) frees them', () => {
    // A leak of the old size (~500 B per metric, in rss) would add ~75 MB over the three rounds.
    const r = churn('drop', '50000', '4');
    expect(r.rounds).toHaveLength(4);
    expect(r.median).toBeLessThan(25);
  }, 180_000);

  it('400 worker threads that each create a counter and exit leave their counts, not their memory', () => {
    // The old cost was ~130 KB per worker: ~50 MB here.
    const r = churn('workers', '400');
    expect(r.median).toBeLessThan(20);
  }, 180_000);
});
