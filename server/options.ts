import { readFileSync } from 'node:fs';
import { isMetricsPath, RESERVED_PATHS } from '../config/rules';
import { InvalidOptionsError, ServerStartError, show } from '../errors';
import { serverEnv } from '../config/index';
import type { Logger } from '../log';
import type { Registry } from '../metrics/registry';
import type { HttpSdSource, ServiceDiscovery } from '../sd/types';

/** PEM material for HTTPS: inline (`key`, `cert`, `ca`) or read from files (`keyFile`, ...). */
export interface TlsOptions {
  /** Private key, PEM. */
  key?: string | Buffer;
  /** Certificate chain, PEM. */
  cert?: string | Buffer;
  /** CA certificates to trust for client certificates, PEM. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Path of the private key (read once, at start). */
  keyFile?: string;
  /** Path of the certificate chain (read once, at start). */
  certFile?: string;
  /** Path of the CA bundle (read once, at start). */
  caFile?: string;
}

/** Credentials a scraper must present: a bearer token, or HTTP basic username and password. */
export type AuthOptions = { token: string } | { username: string; password: string };

/** Options of the parts of a metrics server that can cross into a worker thread. */
export interface MetricsServerCoreOptions {
  /** Port to bind; 0 (the default) picks a free one. */
  port?: number;
  /** Address to bind; default `0.0.0.0` (every IPv4 interface). */
  addr?: string;
  /** HTTPS instead of HTTP. */
  tls?: TlsOptions;
  /** Path of the metrics; default `/metrics`. */
  path?: string;
  /** Credentials required on the metrics path (and `/sd`); `/` and `/healthz` stay open for health checks. */
  auth?: AuthOptions;
  /** gzip the exposition when the scraper accepts it; default true. */
  compression?: boolean;
  /**
   * Time a client has to send a request's headers (default 10000 ms); then Node answers 408 and
   * closes. Enforced within about a second (the server checks its connections every second, or
   * every half timeout for timeouts under 2 s).
   */
  headersTimeoutMs?: number;
  /** Time a client has to send a whole request (default 30000 ms); then 408 and close. */
  requestTimeoutMs?: number;
  /**
   * Connections held at once (default 1000). A connection past it is closed as soon as it is
   * accepted (the client sees a reset) and a warning is logged, throttled: slow or idle clients
   * can then hold a bounded number of file descriptors, and scrapes get through once the headers
   * timeout has cut them.
   */
  maxConnections?: number;
}

/** Options of `startHttpServer`. */
export interface MetricsServerOptions extends MetricsServerCoreOptions {
  /** Registry to expose; default the global one. */
  registry?: Registry;
  /** Plugins that register the server once it listens, and deregister it on `close()`. */
  serviceDiscovery?: ServiceDiscovery | ServiceDiscovery[];
  /** Serves Prometheus HTTP SD (`http_sd_configs`) at `/sd` from this source. */
  httpSd?: HttpSdSource;
  /** Where the server logs failed scrapes and refused connections (default: the library logger, stderr). */
  logger?: Logger;
}

/** Validated options, TLS material loaded. */
export interface ResolvedServerOptions {
  port: number;
  addr: string;
  path: string;
  compression: boolean;
  auth: AuthOptions | undefined;
  tls: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer | (string | Buffer)[] } | undefined;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
}

const CORE_KEYS = new Set([
  'port',
  'addr',
  'tls',
  'path',
  'auth',
  'compression',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'maxConnections',
]);
const ALL_KEYS = new Set([...CORE_KEYS, 'registry', 'serviceDiscovery', 'httpSd', 'logger']);

/** Defaults of the edge options. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_CONNECTIONS = 1000;

function msOption(o: Record<string, unknown>, key: string, fallback: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 31 - 1)
    bad(key, v, 'an integer number of milliseconds ≥ 1');
  return v;
}

/**
 * The options with what the environment sets (PROMSD_PORT, PROMSD_ADDR, PROMSD_PATH,
 * PROMSD_AUTH_TOKEN, PROMSD_TLS_CERT + PROMSD_TLS_KEY, PROMSD_COMPRESSION) filled in where the
 * caller gave none: explicit options win, as in `resolveConfig`.
 */
function withEnv(o: Record<string, unknown>, env: Record<string, string | undefined>): Record<string, unknown> {
  const e = serverEnv(env);
  const out = { ...o };
  if (out.port === undefined && e.port !== undefined) out.port = e.port;
  if (out.addr === undefined && e.addr !== undefined) out.addr = e.addr;
  if (out.path === undefined && e.path !== undefined) out.path = e.path;
  if (out.compression === undefined && e.compression !== undefined) out.compression = e.compression;
  if (out.auth === undefined && e.authToken !== undefined) out.auth = { token: e.authToken };
  if (out.tls === undefined && e.tlsCert !== undefined && e.tlsKey !== undefined)
    out.tls = { certFile: e.tlsCert, keyFile: e.tlsKey };
  return out;
}
export { isMetricsPath } from '../config/rules';

function bad(key: string, value: unknown, expected: string): never {
  throw new InvalidOptionsError(`metrics server option "${key}": ${show(value)} is invalid (expected ${expected})`);
}

function isPem(v: unknown): v is string | Buffer {
  return typeof v === 'string' || Buffer.isBuffer(v);
}

/** Checks every option (unknown keys included) and reads TLS files; throws on the first problem. */
export function resolveServerOptions(
  options: MetricsServerOptions | undefined,
  threaded = false,
  env: Record<string, string | undefined> = process.env,
): ResolvedServerOptions {
  const given = (options ?? {}) as Record<string, unknown>;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) bad('options', given, 'an object');
  for (const k of Object.keys(given)) {
    if (!ALL_KEYS.has(k)) bad(k, given[k], `one of the known options: ${[...ALL_KEYS].join(', ')}`);
  }
  const o = withEnv(given, env);
  if (threaded && o.httpSd !== undefined) {
    bad(
      'httpSd',
      '[object]',
      'no httpSd on a threaded server: serve it from startHttpServer or mount httpSdHandler in your app',
    );
  }
  const port = o.port ?? 0;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
    bad('port', port, 'an integer from 0 to 65535');
  const addr = o.addr ?? '0.0.0.0';
  if (typeof addr !== 'string' || addr === '') bad('addr', addr, 'a host name or IP address');
  const path = o.path ?? '/metrics';
  if (!isMetricsPath(path)) {
    bad(
      'path',
      path,
      `an absolute URL path such as "/metrics", other than ${[...RESERVED_PATHS].join(', ')} (the server answers those itself)`,
    );
  }
  const compression = o.compression ?? true;
  if (typeof compression !== 'boolean') bad('compression', compression, 'true or false');
  let auth: AuthOptions | undefined;
  if (o.auth !== undefined) {
    const a = o.auth as Record<string, unknown>;
    if (
      typeof a === 'object' &&
      a !== null &&
      typeof a.token === 'string' &&
      a.token !== '' &&
      Object.keys(a).length === 1
    ) {
      auth = { token: a.token };
    } else if (
      typeof a === 'object' &&
      a !== null &&
      typeof a.username === 'string' &&
      typeof a.password === 'string' &&
      a.username !== '' &&
      !a.username.includes(':') &&
      Object.keys(a).length === 2
    ) {
      auth = { username: a.username, password: a.password };
    } else {
      bad(
        'auth',
        a === null || typeof a !== 'object' ? a : '[object]',
        '{ token } with a non-empty token, or { username, password } with a username without ":"',
      );
    }
  }
  let tls: ResolvedServerOptions['tls'];
  if (o.tls !== undefined) {
    const t = o.tls as Record<string, unknown>;
    if (typeof t !== 'object' || t === null) bad('tls', t, '{ key, cert, ca? } or { keyFile, certFile, caFile? }');
    const read = (fileKey: string): Buffer | undefined => {
      const f = t[fileKey];
      if (f === undefined) return undefined;
      if (typeof f !== 'string' || f === '') bad(`tls.${fileKey}`, f, 'a file path');
      try {
        return readFileSync(f);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new ServerStartError(`metrics server: cannot read tls.${fileKey} ${show(f)}: ${e.message}`, e.code, {
          cause: err,
        });
      }
    };
    const key = t.key ?? read('keyFile');
    const cert = t.cert ?? read('certFile');
    const ca = t.ca ?? read('caFile');
    if (!isPem(key)) bad('tls.key', key, 'a PEM private key (string or Buffer), or tls.keyFile');
    if (!isPem(cert)) bad('tls.cert', cert, 'a PEM certificate (string or Buffer), or tls.certFile');
    if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.every(isPem)))
      bad('tls.ca', '[value]', 'PEM CA certificates');
    tls = ca === undefined ? { key, cert } : { key, cert, ca: ca as string | Buffer | (string | Buffer)[] };
  }
  const headersTimeoutMs = msOption(o, 'headersTimeoutMs', DEFAULT_HEADERS_TIMEOUT_MS);
  const requestTimeoutMs = msOption(o, 'requestTimeoutMs', Math.max(DEFAULT_REQUEST_TIMEOUT_MS, headersTimeoutMs));
  if (requestTimeoutMs < headersTimeoutMs) {
    bad(
      'requestTimeoutMs',
      requestTimeoutMs,
      `at least headersTimeoutMs (${headersTimeoutMs}): a request includes its headers`,
    );
  }
  const maxConnections = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (typeof maxConnections !== 'number' || !Number.isInteger(maxConnections) || maxConnections < 1)
    bad('maxConnections', maxConnections, 'an integer ≥ 1');
  return { port, addr, path, compression, auth, tls, headersTimeoutMs, requestTimeoutMs, maxConnections };
}

/** `http://host:port/path` with an IPv6 host in brackets. */
export function urlOf(https: boolean, addr: string, port: number, path: string): string {
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return `${https ? 'https' : 'http'}://${host}:${port}${path}`;
}
