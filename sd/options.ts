import { show } from '../errors';
import { InvalidSdOptionError } from '../errors';
import type { SdLogger } from './logger';
import { checkLogger } from '../log';

// Small validators shared by the plugins: each names the option (`ConsulAgent: tags`) and quotes
// the value it refused, so a typo in a deployment's config reads as what it is.

/** Throws unless `options` is a plain object whose keys are all in `allowed` (catches typos). */
export function checkKeys(plugin: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidSdOptionError(`${plugin}: options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidSdOptionError(`${plugin}: unknown option ${show(key)} (known: ${allowed.join(', ')})`);
    }
  }
  return options as Record<string, unknown>;
}

/** A non-empty string, or `undefined` when absent. `pattern` adds a format rule described by `rule`. */
export function optString(what: string, value: unknown, pattern?: RegExp, rule?: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw new InvalidSdOptionError(`${what} must be a non-empty string, got ${show(value)}`);
  }
  if (pattern !== undefined && !pattern.test(value)) {
    throw new InvalidSdOptionError(`${what} ${rule ?? `must match ${pattern}`}, got ${show(value)}`);
  }
  return value;
}

/** A boolean, or `fallback` when absent. */
export function optBoolean(what: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidSdOptionError(`${what} must be true or false, got ${show(value)}`);
  return value;
}

/** An array of strings, or `undefined` when absent. */
export function optStringArray(what: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    throw new InvalidSdOptionError(`${what} must be an array of non-empty strings, got ${show(value)}`);
  }
  return [...(value as string[])];
}

/** A `{ key: 'value' }` object with string values, or `undefined` when absent; keys checked by `key`. */
export function optStringRecord(
  what: string,
  value: unknown,
  key: { pattern: RegExp; rule: string; reserved?: (k: string) => string | undefined },
): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidSdOptionError(`${what} must be an object of string values, got ${show(value)}`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!key.pattern.test(k)) throw new InvalidSdOptionError(`${what}: key ${show(k)} ${key.rule}`);
    const why = key.reserved?.(k);
    if (why !== undefined) throw new InvalidSdOptionError(`${what}: key ${show(k)} ${why}`);
    if (typeof v !== 'string')
      throw new InvalidSdOptionError(`${what}: value of ${show(k)} must be a string, got ${show(v)}`);
    out[k] = v;
  }
  return out;
}

/** The `logger` option of a plugin: the four methods, or the library default (stderr, `PROMSD_LOG_LEVEL`). */
export function optLogger(what: string, value: unknown): SdLogger {
  return checkLogger(what.replace(/: logger$/, ''), value, InvalidSdOptionError);
}

export { LABEL_NAME } from '../metrics/validation';
