import { show } from '../errors';
import { InvalidSdOptionError } from '../errors';

/**
 * A duration: a Go duration string as Consul writes them (`'10s'`, `'1m30s'`, `'500ms'`,
 * `'1.5h'`) or a number of milliseconds.
 */
export type Duration = string | number;

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const GO_DURATION = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/**
 * Parses `value` into milliseconds. Accepts Go duration strings (what Consul's API takes) and
 * non-negative finite numbers of milliseconds; `what` names the option in the error.
 */
export function parseDuration(value: unknown, what: string, { allowZero = false } = {}): number {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string' && (value === '0' || GO_DURATION.test(value))) {
    ms = 0;
    for (const [, n, unit] of value.matchAll(PART)) ms += Number(n) * UNIT_MS[unit];
  } else {
    throw new InvalidSdOptionError(
      `${what} must be a duration such as '10s', '1m' or '500ms' (or a number of milliseconds), got ${show(value)}`,
    );
  }
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) {
    throw new InvalidSdOptionError(
      `${what} must be a ${allowZero ? 'non-negative' : 'positive'} duration, got ${show(value)}`,
    );
  }
  return ms;
}

/** Renders a duration for Consul: strings as given (Consul parses them), numbers as `<n>ms`. */
export function goDuration(value: Duration): string {
  return typeof value === 'string' ? value : `${Math.round(value)}ms`;
}

/** Renders milliseconds for people: `1500` → `1.5s`. */
export function humanDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Math.round(ms / 100) / 10}s`;
}
