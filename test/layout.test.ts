// The shared-memory layout and the aggregator list are stated once per language
// (metrics/layout.ts + metrics/metric.ts, native/src/layout.rs + native/src/store.rs); these
// tests are what keeps the two statements equal.
import { describe, expect, it } from 'vitest';
import { AGGREGATORS } from '../metrics/metric';
import { PAGE_BINS, slotsPerSeries } from '../metrics/layout';
import { native } from '../metrics/native';

describe('layout shared by TypeScript and the core', () => {
  it('agrees on the bins of a summary sketch page', () => {
    expect(native.layoutFacts().pageBins).toBe(PAGE_BINS);
  });

  it('agrees on the slots of a series for every type and shape', () => {
    const shapes: Array<['counter' | 'gauge' | 'histogram' | 'summary', number, number]> = [
      ['counter', 0, 0],
      ['gauge', 0, 0],
      ['histogram', 0, 0],
      ['histogram', 11, 0],
      ['summary', 0, 1],
      ['summary', 0, 5],
      ['summary', 0, 12],
    ];
    for (const [type, buckets, ages] of shapes) {
      expect(native.layoutSlotsPerSeries(type as never, buckets, ages), `${type} ${buckets} ${ages}`).toBe(
        slotsPerSeries(type, buckets, ages),
      );
    }
  });

  it('lists the same aggregators in both languages', () => {
    expect([...native.layoutFacts().aggregators].sort()).toEqual([...AGGREGATORS].sort());
  });
});
