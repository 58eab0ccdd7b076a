import { hostname } from 'node:os';
// Checks shared by the backends' options; messages name the option and the value.
import { BackendConfigError, show } from '../errors';
import { PREFIX, redactUrl, redisUrlProblem } from '../config/rules';
import { checkLogger } from '../log';
import type { Logger } from '../log';
import { optionChecks, type OptionChecks } from '../options';

export { PREFIX } from '../config/rules';

/** The option checks of backend `what`, throwing `BackendConfigError`. */
export function backendChecks(what: string): OptionChecks {
  return optionChecks(what, BackendConfigError);
}

/** A prefix usable as a Redis Cluster hash tag; default `promsd`. */
export function checkPrefix(opt: OptionChecks, prefix: unknown): string {
  return opt.string('prefix', prefix ?? 'promsd', { pattern: PREFIX, rule: 'must match [A-Za-z0-9_.:-]{1,64}' }) ?? '';
}

/** Redis URLs: `redis://`, `rediss://`, `redis+unix://`; one, or several for a cluster. */
export function checkUrls(opt: OptionChecks, url: unknown): string[] {
  const urls = Array.isArray(url) ? url : [url ?? 'redis://127.0.0.1:6379'];
  if (urls.length === 0) opt.fail('url', url, 'must not be an empty array');
  for (const u of urls) {
    const problem = redisUrlProblem(u);
    // The value is shown with its password masked: this message ends up in logs.
    if (problem !== undefined) opt.fail('url', typeof u === 'string' ? redactUrl(u) : u, problem);
  }
  return urls as string[];
}

/** A PEM certificate (or bundle) for `tlsCa`. */
export function checkCa(opt: OptionChecks, ca: unknown): string | undefined {
  if (ca === undefined) return undefined;
  if (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----')) {
    opt.fail('tlsCa', typeof ca === 'string' ? ca.slice(0, 40) : ca, 'must be PEM text (-----BEGIN CERTIFICATE-----…)');
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
  selfMetrics: boolean;
}

/** Checks the options `RedisBackend` and `IoredisBackend` share; messages name the option and the value. */
export function resolveBackendOptions(what: string, options: Record<string, unknown>): ResolvedBackendOptions {
  const opt = backendChecks(what);
  const ms = { min: 0, unit: 'ms' };
  const urls = checkUrls(opt, options.url);
  const cluster = opt.boolean('cluster', options.cluster, false);
  if (!cluster && urls.length > 1) {
    throw new BackendConfigError(`${what}: several urls need cluster: true, got ${show(urls)}`);
  }
  const flushIntervalMs = opt.integer('flushIntervalMs', options.flushIntervalMs, 1000, { ...ms, min: 10 });
  const processTtlMs = opt.integer('processTtlMs', options.processTtlMs, 15_000, { ...ms, min: 100 });
  if (processTtlMs <= flushIntervalMs) {
    throw new BackendConfigError(
      `${what}: processTtlMs (${processTtlMs}) must be longer than flushIntervalMs (${flushIntervalMs}), or live processes would look dead`,
    );
  }
  return {
    urls,
    cluster,
    prefix: checkPrefix(opt, options.prefix),
    flushIntervalMs,
    processTtlMs,
    retainMs: opt.integer('retainMs', options.retainMs, 3_600_000, { ...ms, min: processTtlMs }),
    timeoutMs: opt.integer('timeoutMs', options.timeoutMs, 5000, { ...ms, min: 1 }),
    logThrottleMs: opt.integer('logThrottleMs', options.logThrottleMs, 60_000, ms),
    processLabel: opt.string('processLabel', options.processLabel) ?? `${hostname()}:${process.pid}`,
    logger: checkLogger(what, options.logger, BackendConfigError),
    tlsCa: checkCa(opt, options.tlsCa),
    selfMetrics: opt.boolean('selfMetrics', options.selfMetrics, false),
  };
}
