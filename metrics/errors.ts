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

/**
 * An option passed to a server, backend or plugin is invalid (its name and value are quoted).
 * `BackendConfigError` and `InvalidSdOptionError` are its kinds: catch this one for all.
 */
export class InvalidOptionsError extends PromsdError {
  override name = 'InvalidOptionsError';
}

/** A server could not start (address in use, unreadable TLS files…); `code` is Node's, if any. */
export class ServerStartError extends PromsdError {
  override name = 'ServerStartError';
  /** Node's error code (`EADDRINUSE`, `EACCES`, `ENOENT`…), when there is one. */
  readonly code: string | undefined;

  constructor(message: string, code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
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
