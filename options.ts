import { InvalidOptionsError, show } from './errors';

// The option checks every part shares (server, backends, plugins, middleware, wrappers), so a
// refused option reads the same wherever it was given:
//
//   <where>: <option> must be <expected>, got <value>
//   <where>: unknown option "<key>" (known: a, b, c)
//
// A leaf: it imports only errors.ts, so metrics/ may use it too.

/** The error class a part throws for its options (`BackendConfigError`, `InvalidSdOptionError`…). */
export type OptionErrorClass = new (message: string) => InvalidOptionsError;

/** The checks, bound to the part (`where`) that names the options and the error class it throws. */
export interface OptionChecks {
  /** Throws `<where>: <name> <rule>, got <value>`; `rule` reads as a predicate (`must be …`). */
  fail(name: string, value: unknown, rule: string): never;
  /** A plain object, `{}` when absent: the options of a part that checks each key itself. */
  object(options: unknown): Record<string, unknown>;
  /** A plain object whose keys are all in `allowed` (catches typos), `{}` when absent; `within` names a nested object. */
  keys(options: unknown, allowed: readonly string[], within?: string): Record<string, unknown>;
  /** A non-empty string, or `undefined` when absent; `format` adds a pattern described by its rule. */
  string(name: string, value: unknown, format?: { pattern: RegExp; rule: string }): string | undefined;
  /** A boolean, or `fallback` when absent. */
  boolean(name: string, value: unknown, fallback: boolean): boolean;
  /** A whole number in [min, max] (max defaults to 2^31 - 1, the largest timer), or `fallback` when absent. */
  integer(name: string, value: unknown, fallback: number, range: { min: number; max?: number; unit?: string }): number;
  /** An array of non-empty strings (copied), or `undefined` when absent. */
  stringArray(name: string, value: unknown): string[] | undefined;
  /** A `{ key: 'value' }` object (copied), or `undefined` when absent; keys checked by `key`. */
  stringRecord(
    name: string,
    value: unknown,
    key: { pattern: RegExp; rule: string; reserved?: (k: string) => string | undefined },
  ): Record<string, string> | undefined;
  /** A function, or `undefined` when absent; `shape` describes it (`(request) => route label`). */
  func<F>(name: string, value: unknown, shape: string): F | undefined;
}

/** A plain object: not null, not an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The option checks of the part `where` (`'ConsulAgent'`, `'metrics server'`), throwing `ErrorClass`. */
export function optionChecks(where: string, ErrorClass: OptionErrorClass = InvalidOptionsError): OptionChecks {
  const fail = (name: string, value: unknown, rule: string): never => {
    throw new ErrorClass(`${where}: ${name} ${rule}, got ${show(value)}`);
  };
  const object = (options: unknown, at = where): Record<string, unknown> => {
    if (options === undefined) return {};
    if (!isPlainObject(options)) throw new ErrorClass(`${at}: options must be an object, got ${show(options)}`);
    return options;
  };
  return {
    fail,
    object,
    keys(options, allowed, within) {
      const at = within === undefined ? where : `${where}: ${within}`;
      const o = object(options, at);
      for (const key of Object.keys(o)) {
        if (!allowed.includes(key)) {
          throw new ErrorClass(`${at}: unknown option ${show(key)} (known: ${allowed.join(', ')})`);
        }
      }
      return o;
    },
    string(name, value, format) {
      if (value === undefined) return undefined;
      if (typeof value !== 'string' || value === '') return fail(name, value, 'must be a non-empty string');
      if (format !== undefined && !format.pattern.test(value)) return fail(name, value, format.rule);
      return value;
    },
    boolean(name, value, fallback) {
      if (value === undefined) return fallback;
      return typeof value === 'boolean' ? value : fail(name, value, 'must be true or false');
    },
    integer(name, value, fallback, { min, max = 2 ** 31 - 1, unit }) {
      if (value === undefined) return fallback;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        return fail(name, value, `must be an integer from ${min} to ${max}${unit === undefined ? '' : ` (${unit})`}`);
      }
      return value;
    },
    stringArray(name, value) {
      if (value === undefined) return undefined;
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
        return fail(name, value, 'must be an array of non-empty strings');
      }
      return [...(value as string[])];
    },
    stringRecord(name, value, key) {
      if (value === undefined) return undefined;
      if (!isPlainObject(value)) return fail(name, value, 'must be an object of string values');
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(value)) {
        if (!key.pattern.test(k)) throw new ErrorClass(`${where}: ${name}: key ${show(k)} ${key.rule}`);
        const why = key.reserved?.(k);
        if (why !== undefined) throw new ErrorClass(`${where}: ${name}: key ${show(k)} ${why}`);
        if (typeof v !== 'string') fail(`${name}: value of ${show(k)}`, v, 'must be a string');
        out[k] = v as string;
      }
      return out;
    },
    func<F>(name: string, value: unknown, shape: string): F | undefined {
      if (value === undefined) return undefined;
      return typeof value === 'function' ? (value as F) : fail(name, value, `must be a function ${shape}`);
    },
  };
}
