// Every error promsd throws, in one place: a newcomer finds them here, and callers catch by class.

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

// Backends
/** A backend option is invalid; the message names the option and the value. */
export class BackendConfigError extends InvalidOptionsError {
  override name = 'BackendConfigError';
}

/** `loadBackend` was called while another backend is loaded. */
export class BackendLoadedError extends PromsdError {
  override name = 'BackendLoadedError';
}

// Service discovery
/** A service-discovery plugin was given an invalid option (the message names it and its value). */
export class InvalidSdOptionError extends InvalidOptionsError {
  override name = 'InvalidSdOptionError';
}

/** The Consul agent answered an API call with an error status; `consulMessage` is its own text. */
export class ConsulApiError extends PromsdError {
  override name = 'ConsulApiError';

  constructor(
    /** The call that failed, e.g. `PUT /v1/agent/service/register`. */
    readonly call: string,
    /** HTTP status returned by the agent. */
    readonly statusCode: number,
    /** The agent's error text (Consul answers errors as `text/plain`). */
    readonly consulMessage: string,
  ) {
    super(`${call}: Consul answered ${statusCode}: ${consulMessage}`);
  }
}

// Configuration
/** Every problem of a configuration, one line each (`problems`), reported together. */
export class ConfigError extends PromsdError {
  override name = 'ConfigError';
  /** One line per problem. */
  readonly problems: readonly string[];

  constructor(problems: string[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`,
    );
    this.problems = problems;
  }
}

/**
 * No native addon loads for this platform: neither a clone's own build nor the prebuilt
 * `promsd-<platform>` package. The message names the platform, the package and how to build it.
 */
export class NativeAddonError extends PromsdError {
  override name = 'NativeAddonError';
}

/** A Pushgateway request failed: `url` is the request's, `status` the HTTP status (if any). */
export class PushgatewayError extends PromsdError {
  override name = 'PushgatewayError';
  readonly url: string;
  readonly status: number | undefined;

  constructor(message: string, url: string, status?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.url = url;
    this.status = status;
  }
}
