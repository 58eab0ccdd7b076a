import { readFileSync } from 'node:fs';
import { isMetricsPath, RESERVED_PATHS } from '../config/rules';
import { ServerStartError, show } from '../errors';
import { isPlainObject, optionChecks, type OptionChecks } from '../options';
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
const ALL_KEYS = [...CORE_KEYS, 'registry', 'serviceDiscovery', 'httpSd', 'logger'];

/** The option checks of the metrics server, `metrics server: port must be …, got …`. */
export const serverChecks: OptionChecks = optionChecks('metrics server');
const opt: OptionChecks = serverChecks;
const MS = { min: 1, unit: 'ms' };

/** Defaults of the edge options. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_CONNECTIONS = 1000;

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

function isPem(v: unknown): v is string | Buffer {
  return typeof v === 'string' || Buffer.isBuffer(v);
}

/** Checks every option (unknown keys included) and reads TLS files; throws on the first problem. */
export function resolveServerOptions(
  options: MetricsServerOptions | undefined,
  threaded = false,
  env: Record<string, string | undefined> = process.env,
): ResolvedServerOptions {
  const o = withEnv(opt.keys(options ?? undefined, ALL_KEYS), env);
  if (threaded && o.httpSd !== undefined) {
    opt.fail(
      'httpSd',
      '[object]',
      'must not be given to a threaded server: serve it from startHttpServer or mount httpSdHandler in your app',
    );
  }
  const port = opt.integer('port', o.port, 0, { min: 0, max: 65535 });
  const addr = opt.string('addr', o.addr) ?? '0.0.0.0';
  const path = o.path ?? '/metrics';
  if (!isMetricsPath(path)) {
    opt.fail(
      'path',
      path,
      `must be an absolute URL path such as "/metrics", other than ${[...RESERVED_PATHS].join(', ')} (the server answers those itself)`,
    );
  }
  const compression = opt.boolean('compression', o.compression, true);
  let auth: AuthOptions | undefined;
  if (o.auth !== undefined) {
    const a = o.auth as Record<string, unknown>;
    if (isPlainObject(a) && typeof a.token === 'string' && a.token !== '' && Object.keys(a).length === 1) {
      auth = { token: a.token };
    } else if (
      isPlainObject(a) &&
      typeof a.username === 'string' &&
      typeof a.password === 'string' &&
      a.username !== '' &&
      !a.username.includes(':') &&
      Object.keys(a).length === 2
    ) {
      auth = { username: a.username, password: a.password };
    } else {
      opt.fail(
        'auth',
        a === null || typeof a !== 'object' ? a : '[object]',
        'must be { token } with a non-empty token, or { username, password } with a username without ":"',
      );
    }
  }
  let tls: ResolvedServerOptions['tls'];
  if (o.tls !== undefined) {
    const t = o.tls as Record<string, unknown>;
    if (!isPlainObject(t)) opt.fail('tls', t, 'must be { key, cert, ca? } or { keyFile, certFile, caFile? }');
    const read = (fileKey: string): Buffer | undefined => {
      const f = opt.string(`tls.${fileKey}`, t[fileKey]);
      if (f === undefined) return undefined;
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
    if (!isPem(key)) opt.fail('tls.key', key, 'must be a PEM private key (string or Buffer), or give tls.keyFile');
    if (!isPem(cert)) opt.fail('tls.cert', cert, 'must be a PEM certificate (string or Buffer), or give tls.certFile');
    if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.every(isPem)))
      opt.fail('tls.ca', '[value]', 'must be PEM CA certificates');
    tls = ca === undefined ? { key, cert } : { key, cert, ca: ca as string | Buffer | (string | Buffer)[] };
  }
  const headersTimeoutMs = opt.integer('headersTimeoutMs', o.headersTimeoutMs, DEFAULT_HEADERS_TIMEOUT_MS, MS);
  const requestTimeoutMs = opt.integer(
    'requestTimeoutMs',
    o.requestTimeoutMs,
    Math.max(DEFAULT_REQUEST_TIMEOUT_MS, headersTimeoutMs),
    MS,
  );
  if (requestTimeoutMs < headersTimeoutMs) {
    opt.fail(
      'requestTimeoutMs',
      requestTimeoutMs,
      `must be at least headersTimeoutMs (${headersTimeoutMs}): a request includes its headers`,
    );
  }
  const maxConnections = opt.integer('maxConnections', o.maxConnections, DEFAULT_MAX_CONNECTIONS, { min: 1 });
  return { port, addr, path, compression, auth, tls, headersTimeoutMs, requestTimeoutMs, maxConnections };
}

/** `http://host:port/path` with an IPv6 host in brackets. */
export function urlOf(https: boolean, addr: string, port: number, path: string): string {
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return `${https ? 'https' : 'http'}://${host}:${port}${path}`;
}
