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
 * A URL with its password replaced by `***`, the user kept (`redis://user:***@host:port`), for
 * logs and printed configuration. The password is what lies between the first `:` of the
 * userinfo and the last `@` of the authority, so a URL that does not parse is masked too. The
 * Rust core's `redact` (native/src/backend/flusher.rs) follows the same rule, checked against the
 * same vectors (test/fixtures/redact-vectors.json).
 */
export function redactUrl(url: string): string {
  const s = url.indexOf('://');
  if (s < 0) return url;
  const rest = url.slice(s + 3);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  if (at < 0) return url;
  const colon = rest.slice(0, at).indexOf(':');
  if (colon < 0) return url;
  return `${url.slice(0, s + 3)}${rest.slice(0, colon)}:***${rest.slice(at)}`;
}

/** Schemes of Redis URLs: TCP, TLS, and the embedded aggregator's Unix socket. */
export const REDIS_URL_SCHEMES = ['redis:', 'rediss:', 'redis+unix:', 'unix:'] as const;

/**
 * Why `url` is not a usable Redis URL (`undefined` when it is): a scheme of
 * {@link REDIS_URL_SCHEMES} (`allowUnix` false: only redis:// and rediss://), a URL that parses,
 * a host, a port from 1 to 65535.
 */
export function redisUrlProblem(url: unknown, allowUnix = true): string | undefined {
  const schemes = allowUnix ? 'a redis://, rediss:// or redis+unix:// URL' : 'a redis:// or rediss:// URL';
  if (typeof url !== 'string' || !/^[a-z+]+:\/\/\S+$/.test(url)) return `must be ${schemes}`;
  const scheme = url.slice(0, url.indexOf(':') + 1);
  if (!(REDIS_URL_SCHEMES as readonly string[]).includes(scheme) || (!allowUnix && scheme.includes('unix')))
    return `must be ${schemes}`;
  if (scheme.includes('unix')) return undefined;
  // Ports out of range fail to parse too; say so rather than "Invalid URL".
  const port = /^[a-z]+:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)(?:[/?#]|$)/.exec(url)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
    return `has a port (${port}) outside 1 to 65535`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'does not parse as a URL (check the host, the brackets of an IPv6 address, and %-encode special characters of the password)';
  }
  if (u.hostname === '') return 'has no host';
  return undefined;
}
