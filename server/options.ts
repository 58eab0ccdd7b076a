import { readFileSync } from 'node:fs';
import { InvalidOptionsError, ServerStartError, show } from '../errors';
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
}

/** Options of `startHttpServer`. */
export interface MetricsServerOptions extends MetricsServerCoreOptions {
  /** Registry to expose; default the global one. */
  registry?: Registry;
  /** Plugins that register the server once it listens, and deregister it on `close()`. */
  serviceDiscovery?: ServiceDiscovery | ServiceDiscovery[];
  /** Serves Prometheus HTTP SD (`http_sd_configs`) at `/sd` from this source. */
  httpSd?: HttpSdSource;
}

/** Validated options, TLS material loaded. */
export interface ResolvedServerOptions {
  port: number;
  addr: string;
  path: string;
  compression: boolean;
  auth: AuthOptions | undefined;
  tls: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer | (string | Buffer)[] } | undefined;
}

const CORE_KEYS = new Set(['port', 'addr', 'tls', 'path', 'auth', 'compression']);
const ALL_KEYS = new Set([...CORE_KEYS, 'registry', 'serviceDiscovery', 'httpSd']);
const RESERVED_PATHS = new Set(['/', '/healthz', '/sd']);

/** True for a usable metrics path: absolute, URL-safe, no `//`, not one the server answers itself. */
export function isMetricsPath(path: unknown): path is string {
  return (
    typeof path === 'string' &&
    /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(path) &&
    !path.includes('//') &&
    !RESERVED_PATHS.has(path)
  );
}

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
): ResolvedServerOptions {
  const o = (options ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('options', o, 'an object');
  for (const k of Object.keys(o)) {
    if (!ALL_KEYS.has(k)) bad(k, o[k], `one of the known options: ${[...ALL_KEYS].join(', ')}`);
  }
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
  return { port, addr, path, compression, auth, tls };
}

/** `http://host:port/path` with an IPv6 host in brackets. */
export function urlOf(https: boolean, addr: string, port: number, path: string): string {
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return `${https ? 'https' : 'http'}://${host}:${port}${path}`;
}
