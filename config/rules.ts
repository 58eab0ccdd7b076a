// Rules the configuration shares with the options of the parts it configures (the server's path,
// the backend's prefix, the log levels). Here, in the leaf, so that config/ imports nothing of
// the library and every part can read the configuration.

/** What a prefix may be: it becomes a Redis Cluster hash tag, so no braces. */
export const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Paths the metrics server answers itself. */
export const RESERVED_PATHS: ReadonlySet<string> = new Set(['/', '/healthz', '/sd']);

/** True for a usable metrics path: absolute, URL-safe, no `//`, not one the server answers itself. */
export function isMetricsPath(path: unknown): path is string {
  return (
    typeof path === 'string' &&
    /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(path) &&
    !path.includes('//') &&
    !RESERVED_PATHS.has(path)
  );
}

/** Log levels, least severe first; `silent` logs nothing. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
/** A log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A URL with its password replaced by `***` (the user kept), for logs and printed configuration;
 * `***` whole when it does not parse, since it may then be a secret typed in the wrong place.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '***';
  }
}
