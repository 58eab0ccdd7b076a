// Checks shared by the backends' options; messages name the option and the value.
import { show } from '../metrics/errors';
import { BackendConfigError } from './errors';
import type { Logger } from './types';

const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/** A prefix usable as a Redis Cluster hash tag. */
export function checkPrefix(what: string, prefix: unknown): string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new BackendConfigError(`${what}: prefix ${show(prefix)} must match [A-Za-z0-9_.:-]{1,64}`);
  }
  return prefix;
}

/** A whole number of milliseconds in [min, max]. */
export function checkMs(what: string, option: string, value: unknown, fallback: number, min: number, max = 2 ** 31 - 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BackendConfigError(`${what}: ${option} must be an integer from ${min} to ${max} (ms), got ${show(value)}`);
  }
  return value;
}

/** Redis URLs: `redis://`, `rediss://`, `redis+unix://`; one, or several for a cluster. */
export function checkUrls(what: string, url: unknown): string[] {
  const urls = Array.isArray(url) ? url : [url ?? 'redis://127.0.0.1:6379'];
  if (urls.length === 0) throw new BackendConfigError(`${what}: url must not be an empty array`);
  for (const u of urls) {
    if (typeof u !== 'string' || !/^(rediss?|redis\+unix|unix):\/\/[^\s]+$/.test(u)) {
      throw new BackendConfigError(`${what}: url ${show(u)} is not a redis://, rediss:// or redis+unix:// URL`);
    }
    try {
      new URL(u);
    } catch {
      throw new BackendConfigError(`${what}: url ${show(u)} is not a valid URL`);
    }
  }
  return urls as string[];
}

/** A logger with the four methods. */
export function checkLogger(what: string, logger: unknown): Logger {
  if (logger === undefined) return console;
  for (const m of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (logger as Record<string, unknown> | null)?.[m] !== 'function') {
      throw new BackendConfigError(`${what}: logger must have debug, info, warn and error methods (missing ${m})`);
    }
  }
  return logger as Logger;
}

/** A PEM certificate (or bundle) for `tlsCa`. */
export function checkCa(what: string, ca: unknown): string | undefined {
  if (ca === undefined) return undefined;
  if (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new BackendConfigError(`${what}: tlsCa must be PEM text (-----BEGIN CERTIFICATE-----…), got ${show(typeof ca === 'string' ? ca.slice(0, 40) : ca)}`);
  }
  return ca;
}
