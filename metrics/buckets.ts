import { InvalidMetricError } from '../errors';

/** `count` buckets starting at `start`, `width` apart. */
export function linearBuckets(start: number, width: number, count: number): number[] {
  if (!(count >= 1) || !Number.isInteger(count))
    throw new InvalidMetricError(`linearBuckets: count must be a positive integer, got ${count}`);
  if (!(width > 0)) throw new InvalidMetricError(`linearBuckets: width must be positive, got ${width}`);
  return Array.from({ length: count }, (_, i) => start + i * width);
}

/** `count` buckets starting at `start`, each `factor` times the previous. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (!(start > 0)) throw new InvalidMetricError(`exponentialBuckets: start must be positive, got ${start}`);
  if (!(factor > 1)) throw new InvalidMetricError(`exponentialBuckets: factor must be greater than 1, got ${factor}`);
  if (!(count >= 1) || !Number.isInteger(count))
    throw new InvalidMetricError(`exponentialBuckets: count must be a positive integer, got ${count}`);
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}
