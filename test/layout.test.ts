// The shared-memory layout and the aggregator list are stated once per language
// (metrics/layout.ts + metrics/metric.ts, native/src/layout.rs + native/src/store.rs); these
// tests are what keeps the two statements equal.
import { describe, expect, it } from 'vitest';
import { AGGREGATORS } from '../metrics/metric';
import { NH_HEADER, NH_REDUCTIONS, NH_SEQ, NH_ZERO, PAGE_BINS, slotsPerSeries } from '../metrics/layout';
import { native } from '../metrics/native';

describe('layout shared by TypeScript and the core', () => {
  it('agrees on the bins of a summary sketch page', () => {
    expect(native.layoutFacts().pageBins).toBe(PAGE_BINS);
  });

  it('agrees on the native histogram header and its offsets', () => {
    const f = native.layoutFacts();
    expect([f.nhHeader, f.nhZero, f.nhReductions, f.nhSeq]).toEqual([NH_HEADER, NH_ZERO, NH_REDUCTIONS, NH_SEQ]);
  });

  it('agrees on the slots of a series for every type and shape', () => {
    const shapes: Array<['counter' | 'gauge' | 'histogram' | 'summary', number, number, boolean]> = [
      ['counter', 0, 0, false],
      ['gauge', 0, 0, false],
      ['histogram', 0, 0, false],
      ['histogram', 11, 0, false],
      ['histogram', 0, 0, true],
      ['histogram', 11, 0, true],
      ['summary', 0, 1, false],
      ['summary', 0, 5, false],
      ['summary', 0, 12, false],
    ];
    for (const [type, buckets, ages, nh] of shapes) {
      expect(native.layoutSlotsPerSeries(type as never, buckets, ages, nh), `${type} ${buckets} ${ages} ${nh}`).toBe(
        slotsPerSeries(type, buckets, ages, nh),
      );
    }
  });

  it('lists the same aggregators in both languages', () => {
    expect([...native.layoutFacts().aggregators].sort()).toEqual([...AGGREGATORS].sort());
  });
});
