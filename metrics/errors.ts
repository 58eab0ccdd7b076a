/** Base class of every error promsd throws on bad input. */
export class PromsdError extends Error {
  override name = 'PromsdError';
}

/** A metric definition is invalid (name, help, label names, buckets, percentiles…). */
export class InvalidMetricError extends PromsdError {
  override name = 'InvalidMetricError';
}

/** Labels passed to an update do not match the metric's label names. */
export class InvalidLabelsError extends PromsdError {
  override name = 'InvalidLabelsError';
}

/** A value passed to an update is not acceptable for the metric (NaN, negative increment…). */
export class InvalidValueError extends PromsdError {
  override name = 'InvalidValueError';
}

/** A metric with the same name is already in the registry. */
export class DuplicateMetricError extends PromsdError {
  override name = 'DuplicateMetricError';
}

/** Renders a value for an error message: strings quoted, everything else inspected. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
