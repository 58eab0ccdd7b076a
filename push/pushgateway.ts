// Pushes a registry's exposition to a Prometheus Pushgateway (prom-client's `Pushgateway`).
// Requests go through Node's http/https `request` with the caller's options (an `agent`,
// `headers`, `timeout`, TLS settings), as prom-client's do, so tests that intercept
// `http.request` (nock) keep working; `fetch` would bypass them.
// 'http', not 'node:http': users' tests mock the module by that name (jest.mock('http')).
// biome-ignore lint/style/useNodejsImportProtocol: see above.
import http from 'http';
// biome-ignore lint/style/useNodejsImportProtocol: see above.
import https from 'https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { InvalidOptionsError, PushgatewayError, show } from '../errors';
import { register as globalRegistry, type Registry, type RegistryContentType } from '../metrics/registry';

const gzipAsync = promisify(gzipCallback);

/** Options of `new Pushgateway(url, options)`: http(s).request options plus `requireJobName`. */
export interface PushgatewayOptions extends https.RequestOptions {
  /** Refuse calls without `jobName` (default true, as prom-client). */
  requireJobName?: boolean;
}

/** Arguments of push, pushAdd and delete (prom-client's `Pushgateway.Parameters`). */
export interface PushgatewayParameters {
  /** The `job` grouping key. */
  jobName?: string;
  /** More grouping labels, e.g. `{ instance: 'host-1' }`. */
  groupings?: Record<string, string | number>;
}

/** What a successful call resolves to: the response and its body. */
export interface PushgatewayResponse {
  resp: http.IncomingMessage;
  body: string;
}

/** Client of one Pushgateway for one registry. */
export class Pushgateway<T extends RegistryContentType = RegistryContentType> {
  /** The registry pushed (default: the global registry). */
  readonly registry: Registry<T>;
  /** The gateway's URL; a path in it is kept as a prefix (`http://host:9091/gw`). */
  readonly gatewayUrl: string;
  readonly #requireJobName: boolean;
  readonly #requestOptions: https.RequestOptions;

  constructor(gatewayUrl: string, options?: PushgatewayOptions, registry?: Registry<T>) {
    let parsed: URL;
    try {
      parsed = new URL(gatewayUrl);
    } catch {
      throw new InvalidOptionsError(`Pushgateway: gateway URL ${show(gatewayUrl)} is not a valid URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new InvalidOptionsError(`Pushgateway: gateway URL ${show(gatewayUrl)} must be http: or https:`);
    }
    // null is accepted as prom-client accepts it (`{ ...null }`).
    if (options !== undefined && options !== null && typeof options !== 'object') {
      throw new InvalidOptionsError(`Pushgateway: options must be an object, got ${show(options)}`);
    }
    const { requireJobName = true, ...requestOptions } = options ?? {};
    this.gatewayUrl = gatewayUrl;
    this.registry = registry ?? (globalRegistry as Registry<T>);
    this.#requireJobName = requireJobName;
    this.#requestOptions = requestOptions;
  }

  /**
   * POST: replaces the pushed metrics of the same names in the group, keeps the others. As in
   * prom-client, a missing `jobName` throws at once and the request is made before the
   * registry is rendered (its body follows).
   */
  pushAdd(params: PushgatewayParameters = {}): Promise<PushgatewayResponse> {
    return this.#send('POST', params);
  }

  /** PUT: replaces every metric of the group. */
  push(params: PushgatewayParameters = {}): Promise<PushgatewayResponse> {
    return this.#send('PUT', params);
  }

  /** DELETE: removes the group. */
  delete(params: PushgatewayParameters = {}): Promise<PushgatewayResponse> {
    return this.#send('DELETE', params);
  }

  /** The request URL of a group, as prom-client builds it. */
  urlOf(params: PushgatewayParameters = {}): URL {
    const base = new URL(this.gatewayUrl);
    const prefix = base.pathname !== '/' ? base.pathname.replace(/\/$/, '') : '';
    let job = '';
    if (params.jobName) {
      job = `/job/${encodeURIComponent(params.jobName)}`;
      for (const [k, v] of Object.entries(params.groupings ?? {})) {
        job += `/${encodeURIComponent(k)}/${encodeURIComponent(String(v))}`;
      }
    }
    return new URL(`${prefix}/metrics${job}`, base);
  }

  #send(method: 'POST' | 'PUT' | 'DELETE', params: PushgatewayParameters): Promise<PushgatewayResponse> {
    if (this.#requireJobName && !params.jobName) {
      // prom-client's message, thrown synchronously as prom-client does.
      throw new InvalidOptionsError('Missing jobName parameter');
    }
    const target = this.urlOf(params);
    const headers: http.OutgoingHttpHeaders = { ...(this.#requestOptions.headers as http.OutgoingHttpHeaders) };
    const gzip = headers['Content-Encoding'] === 'gzip';
    if (method === 'DELETE') delete headers['Content-Encoding'];
    // The shape prom-client hands to request() (url.parse's fields, then the caller's options),
    // which users' mocks of http.request inspect.
    const options: https.RequestOptions & { href: string; pathname: string } = {
      protocol: target.protocol,
      hostname: target.hostname,
      host: target.host,
      port: target.port === '' ? undefined : target.port,
      path: `${target.pathname}${target.search}`,
      pathname: target.pathname,
      href: target.href,
      ...(target.username === '' ? {} : { auth: decodeURIComponent(`${target.username}:${target.password}`) }),
      ...this.#requestOptions,
      method,
    };
    if (this.#requestOptions.headers !== undefined) options.headers = headers;
    const mod = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(options, (resp) => {
        let text = '';
        resp.setEncoding('utf8');
        resp.on('data', (chunk: string) => {
          text += chunk;
        });
        resp.on('end', () => {
          const status = resp.statusCode ?? 0;
          if (status >= 400) {
            // prom-client's message, then the request.
            const msg = `push failed with status ${status}, ${text.trimEnd()} (${method} ${target.href})`;
            reject(new PushgatewayError(msg, target.href, status));
          } else resolve({ resp, body: text });
        });
      });
      req.on('error', (err: Error) =>
        reject(new PushgatewayError(`${method} ${target.href} failed: ${err.message}`, target.href, undefined, err)),
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeout} ms (timeout option)`)));
      if (method === 'DELETE') {
        req.end();
        return;
      }
      // gzip on the libuv pool, not on the JS thread.
      this.registry.metrics().then(
        async (text) => {
          req.write(gzip ? await gzipAsync(text) : text);
          req.end();
        },
        (err: unknown) => {
          req.destroy();
          reject(err);
        },
      );
    });
  }
}

// prom-client's namespaced types (type-only: nothing is emitted).
export declare namespace Pushgateway {
  /** Arguments of push, pushAdd and delete. */
  type Parameters = PushgatewayParameters;
}
