import { readFileSync } from 'node:fs';
import { show } from '../errors';
import { InvalidSdOptionError } from '../errors';

/** TLS settings for talking to the Consul agent over HTTPS. */
export interface ConsulTlsOptions {
  /** CA certificate(s) (PEM) that signed the agent's certificate. Env: `CONSUL_CACERT` (a path). */
  ca?: string | Buffer;
  /** Client certificate (PEM) when the agent verifies clients. Env: `CONSUL_CLIENT_CERT` (a path). */
  cert?: string | Buffer;
  /** Client key (PEM). Env: `CONSUL_CLIENT_KEY` (a path). */
  key?: string | Buffer;
  /** Verify the agent's certificate (default true). Env: `CONSUL_HTTP_SSL_VERIFY`. */
  rejectUnauthorized?: boolean;
}

/** Where and how to reach the agent, after options and Consul's environment variables are merged. */
export interface ConsulConnection {
  /** `http(s)://host:port/v1`, the base URL of the agent's API. */
  baseUrl: string;
  /** `http(s)://host:port`, for messages. */
  display: string;
  /** ACL token sent as `X-Consul-Token`, if any. */
  token: string | undefined;
  /** TLS options for HTTPS agents. */
  tls: ConsulTlsOptions;
}

const TLS_KEYS = ['ca', 'cert', 'key', 'rejectUnauthorized'];

/** Go's strconv.ParseBool, which Consul uses for its boolean environment variables. */
function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new InvalidSdOptionError(`ConsulAgent: environment variable ${name} must be true or false, got ${show(v)}`);
}

function envFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const path = env[name];
  if (path === undefined || path === '') return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidSdOptionError(`ConsulAgent: cannot read ${name}=${show(path)}: ${(err as Error).message}`);
  }
}

/**
 * Merges the connection options with Consul's own environment conventions (options win):
 * `CONSUL_HTTP_ADDR` (`host:port` or a URL; default `127.0.0.1:8500`), `CONSUL_HTTP_SSL`,
 * `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_CACERT`, `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`, and the
 * token from `CONSUL_HTTP_TOKEN_FILE` or else `CONSUL_HTTP_TOKEN` (the file wins, as in Consul's
 * Go API client). Files named by the environment are read now, so a bad path fails at startup.
 */
export function resolveConnection(
  options: { agentAddress?: string; token?: string; tls?: unknown },
  env: NodeJS.ProcessEnv,
): ConsulConnection {
  const fromEnv = options.agentAddress === undefined;
  const what = fromEnv ? `environment variable CONSUL_HTTP_ADDR` : 'ConsulAgent: agentAddress';
  const raw = options.agentAddress ?? (env.CONSUL_HTTP_ADDR || '127.0.0.1:8500');
  if (/^unix:\/\//i.test(raw)) {
    throw new InvalidSdOptionError(
      `${what}: unix sockets are not supported, got ${show(raw)}; use host:port or an http(s):// URL`,
    );
  }
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  const ssl = envBool(env, 'CONSUL_HTTP_SSL');
  let url: URL;
  try {
    url = new URL(hasScheme ? raw : `${ssl ? 'https' : 'http'}://${raw}`);
  } catch {
    throw new InvalidSdOptionError(`${what} must be host:port or an http(s):// URL, got ${show(raw)}`);
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.hostname === '' ||
    (url.pathname !== '/' && url.pathname !== '')
  ) {
    throw new InvalidSdOptionError(`${what} must be host:port or an http(s):// URL without a path, got ${show(raw)}`);
  }
  // A bare host means Consul's default port; a URL without a port means the scheme's.
  if (!hasScheme && url.port === '' && !/:\d+$/.test(raw)) url.port = '8500';
  const display = `${url.protocol}//${url.host}`;

  if (options.tls !== undefined) {
    const t = options.tls as Record<string, unknown>;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) {
      throw new InvalidSdOptionError(
        `ConsulAgent: tls must be an object { ca, cert, key, rejectUnauthorized }, got ${show(t)}`,
      );
    }
    for (const [k, v] of Object.entries(t)) {
      if (!TLS_KEYS.includes(k))
        throw new InvalidSdOptionError(`ConsulAgent: tls: unknown option ${show(k)} (known: ${TLS_KEYS.join(', ')})`);
      const ok = k === 'rejectUnauthorized' ? typeof v === 'boolean' : typeof v === 'string' || Buffer.isBuffer(v);
      const expected = k === 'rejectUnauthorized' ? 'true or false' : 'a PEM string or Buffer';
      if (!ok) throw new InvalidSdOptionError(`ConsulAgent: tls.${k} must be ${expected}, got ${show(v)}`);
    }
  }
  const given = (options.tls ?? {}) as ConsulTlsOptions;
  const tls: ConsulTlsOptions = {};
  const ca = given.ca ?? envFile(env, 'CONSUL_CACERT');
  const cert = given.cert ?? envFile(env, 'CONSUL_CLIENT_CERT');
  const key = given.key ?? envFile(env, 'CONSUL_CLIENT_KEY');
  const verify = given.rejectUnauthorized ?? envBool(env, 'CONSUL_HTTP_SSL_VERIFY');
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (verify !== undefined) tls.rejectUnauthorized = verify;

  let token = options.token;
  if (token === undefined) {
    const file = envFile(env, 'CONSUL_HTTP_TOKEN_FILE')?.trim();
    token = file || env.CONSUL_HTTP_TOKEN || undefined;
  }
  return { baseUrl: `${display}/v1`, display, token, tls };
}
