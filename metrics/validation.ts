import { inspect } from 'node:util';
import { InvalidMetricError, show } from '../errors';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Prometheus label names: the one statement of the rule (`__` prefixes are reserved on top). */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** True when `name` is a valid Prometheus metric name (prom-client compatible). */
export function validateMetricName(name: string): boolean {
  return typeof name === 'string' && METRIC_NAME.test(name);
}

/**
 * True when every name is a valid Prometheus label name. Unlike prom-client this also
 * rejects names starting with `__`, which Prometheus reserves.
 */
export function validateLabelName(names: readonly string[] = []): boolean {
  return names.every((n) => typeof n === 'string' && LABEL_NAME.test(n) && !n.startsWith('__'));
}

/**
 * Throws unless `labels` only uses names from `savedLabels`, with prom-client's message
 * (`Added label "x" is not included in initial labelset: [ 'a', 'b' ]`).
 */
export function validateLabel(savedLabels: readonly string[], labels: Record<string, unknown>): void {
  for (const name in labels) {
    if (!savedLabels.includes(name)) {
      throw new InvalidMetricError(
        `Added label "${name}" is not included in initial labelset: ${inspect(savedLabels)}`,
      );
    }
  }
}

/** The label names of every metric defined without any (frozen: metrics freeze theirs). */
const NO_LABEL_NAMES: string[] = Object.freeze([]) as unknown as string[];

/** Checks the label names of a metric definition; `reserved` are names the type uses itself. */
export function checkLabelNames(what: string, names: unknown, reserved: readonly string[]): string[] {
  if (names === undefined) return NO_LABEL_NAMES;
  if (!Array.isArray(names))
    throw new InvalidMetricError(`${what}: labelNames must be an array of strings, got ${show(names)}`);
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    if (typeof n !== 'string' || !LABEL_NAME.test(n)) {
      throw new InvalidMetricError(`${what}: label name ${show(n)} is invalid (must match ${LABEL_NAME.source})`);
    }
    if (n.startsWith('__')) {
      throw new InvalidMetricError(
        `${what}: label name "${n}" is reserved (names starting with "__" are for Prometheus)`,
      );
    }
    if (reserved.includes(n)) {
      throw new InvalidMetricError(`${what}: label name "${n}" is reserved for this metric type`);
    }
    // A scan, not a Set: label lists are short, and a Set per metric showed in creation time.
    if (names.indexOf(n) !== i) throw new InvalidMetricError(`${what}: label name "${n}" is listed twice`);
  }
  return names as string[];
}
