import { hostname } from 'node:os';
// Checks shared by the backends' options; messages name the option and the value.
import { show } from '../errors';
import { BackendConfigError } from '../errors';
import { PREFIX } from '../config/rules';
import { checkLogger as checkAnyLogger } from '../log';
import type { Logger } from '../log';

export { PREFIX } from '../config/rules';

/** A prefix usable as a Redis Cluster hash tag. */
export function checkPrefix(what: string, prefix: unknown): string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new BackendConfigError(`${what}: prefix ${show(prefix)} must match [A-Za-z0-9_.:-]{1,64}`);
  }
  return prefix;
}

/** A whole number of milliseconds in [min, max]. */
export function checkMs(
  what: string,
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max = 2 ** 31 - 1,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BackendConfigError(
      `${what}: ${option} must be an integer from ${min} to ${max} (ms), got ${show(value)}`,
    );
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

/** The `logger` option: the four methods, or the library default (stderr, `PROMSD_LOG_LEVEL`). */
export function checkLogger(what: string, logger: unknown): Logger {
  return checkAnyLogger(what, logger, BackendConfigError);
}

/** A PEM certificate (or bundle) for `tlsCa`. */
export function checkCa(what: string, ca: unknown): string | undefined {
  if (ca === undefined) return undefined;
  if (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new BackendConfigError(
      `${what}: tlsCa must be PEM text (-----BEGIN CERTIFICATE-----…), got ${show(typeof ca === 'string' ? ca.slice(0, 40) : ca)}`,
    );
  }
  return ca;
}

/** The options every Redis-protocol backend shares, checked and with their defaults. */
export interface ResolvedBackendOptions {
  urls: string[];
  cluster: boolean;
  prefix: string;
  flushIntervalMs: number;
  processTtlMs: number;
  retainMs: number;
  timeoutMs: number;
  logThrottleMs: number;
  processLabel: string;
  logger: Logger;
  tlsCa: string | undefined;
}

/** Checks the options `RedisBackend` and `IoredisBackend` share; messages name the option and the value. */
export function resolveBackendOptions(what: string, options: Record<string, unknown>): ResolvedBackendOptions {
  const urls = checkUrls(what, options.url);
  if (options.cluster !== undefined && typeof options.cluster !== 'boolean') {
    throw new BackendConfigError(`${what}: cluster must be a boolean, got ${show(options.cluster)}`);
  }
  const cluster = options.cluster ?? false;
  if (!cluster && urls.length > 1) {
    throw new BackendConfigError(`${what}: several urls need cluster: true, got ${show(urls)}`);
  }
  const flushIntervalMs = checkMs(what, 'flushIntervalMs', options.flushIntervalMs, 1000, 10);
  const processTtlMs = checkMs(what, 'processTtlMs', options.processTtlMs, 15_000, 100);
  if (processTtlMs <= flushIntervalMs) {
    throw new BackendConfigError(
      `${what}: processTtlMs (${processTtlMs}) must be longer than flushIntervalMs (${flushIntervalMs}), or live processes would look dead`,
    );
  }
  const { processLabel } = options;
  if (processLabel !== undefined && (typeof processLabel !== 'string' || processLabel === '')) {
    throw new BackendConfigError(`${what}: processLabel must be a non-empty string, got ${show(processLabel)}`);
  }
  return {
    urls,
    cluster,
    prefix: checkPrefix(what, options.prefix ?? 'promsd'),
    flushIntervalMs,
    processTtlMs,
    retainMs: checkMs(what, 'retainMs', options.retainMs, 3_600_000, processTtlMs),
    timeoutMs: checkMs(what, 'timeoutMs', options.timeoutMs, 5000, 1),
    logThrottleMs: checkMs(what, 'logThrottleMs', options.logThrottleMs, 60_000, 0),
    processLabel: (processLabel as string | undefined) ?? `${hostname()}:${process.pid}`,
    logger: checkLogger(what, options.logger),
    tlsCa: checkCa(what, options.tlsCa),
  };
}
