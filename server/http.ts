import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { InvalidOptionsError, ServerStartError } from '../errors';
import { combineServiceDiscovery } from '../sd/combine';
import { getGlobalRegistry } from '../metrics/registry';
import type { Deregister, MetricsServerInfo, ServiceDiscovery } from '../sd/types';
import { createMetricsApp } from './app';
import { importHono, importNodeServer } from './hono';
import type { ExpositionSource } from './app';
import { resolveServerOptions, urlOf } from './options';
import type { MetricsServerOptions, ResolvedServerOptions } from './options';

/** Where a server actually listens. */
export interface BoundSocket {
  /** The bound address (`0.0.0.0`, `::`, `127.0.0.1`, ...). */
  readonly addr: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
}

/** Time a closing server gives in-flight scrapes before it cuts their connections. */
const CLOSE_GRACE_MS = 2000;

/**
 * Service-discovery bookkeeping shared by the in-thread and the threaded server: registers once
 * the socket is bound, deregisters once on close, tells whether the registration holds. Several
 * plugins are combined with `combineServiceDiscovery` (all or nothing).
 */
export class Registrations {
  readonly #plugin: ServiceDiscovery | undefined;
  #deregister: Deregister | null = null;
  #registered = false;
  #closing: Promise<void> | undefined;

  private constructor(plugin: ServiceDiscovery | undefined) {
    this.#plugin = plugin;
  }

  /** Checks the `serviceDiscovery` option. */
  static of(sd: MetricsServerOptions['serviceDiscovery']): Registrations {
    if (sd === undefined) return new Registrations(undefined);
    if (Array.isArray(sd)) return new Registrations(sd.length === 0 ? undefined : combineServiceDiscovery(sd));
    if (typeof sd !== 'object' || sd === null || typeof (sd as ServiceDiscovery).register !== 'function') {
      throw new InvalidOptionsError(
        `metrics server option "serviceDiscovery": expected a plugin with register(server), or an array of them`,
      );
    }
    return new Registrations(sd);
  }

  /** True while the registration is in effect (plugins that retry in the background report their own state). */
  get isRegistered(): boolean {
    return this.#plugin !== undefined && this.#registered && this.#plugin.isRegistered !== false;
  }

  async register(info: MetricsServerInfo): Promise<void> {
    if (this.#plugin === undefined) return;
    this.#deregister = await this.#plugin.register(info);
    this.#registered = true;
  }

  async deregister(): Promise<void> {
    const d = this.#deregister;
    this.#deregister = null;
    this.#registered = false;
    if (d !== null) await d();
  }

  /**
   * A server's `close()`: deregisters, then runs `stop` — always, even when deregistration
   * fails; that error is thrown after `stop`. Later calls return the first call's promise.
   */
  close(stop: () => Promise<void>): Promise<void> {
    return (this.#closing ??= (async () => {
      let failure: { err: unknown } | undefined;
      try {
        await this.deregister();
      } catch (err) {
        failure = { err };
      }
      await stop();
      if (failure) throw failure.err;
    })());
  }
}

/** Builds the server info handed to service-discovery plugins. */
export function serverInfo(socket: BoundSocket, https: boolean, path: string): MetricsServerInfo {
  return { socket, url: urlOf(https, socket.addr, socket.port, path), path, https, healthPath: '/healthz' };
}

/** Starts a Node server for `app.fetch` and resolves once it listens (or rejects with why not). */
export async function listen(
  opts: ResolvedServerOptions,
  fetch: (req: Request) => Response | Promise<Response>,
): Promise<Server> {
  // Loaded when a server starts: requiring promsd to instrument does not load the adapter.
  const { createAdaptorServer } = await importNodeServer();
  let server: Server;
  try {
    server = (
      opts.tls
        ? createAdaptorServer({ fetch, createServer: createHttpsServer, serverOptions: { ...opts.tls } })
        : createAdaptorServer({ fetch, createServer: createHttpServer })
    ) as Server;
  } catch (err) {
    // Unparsable TLS material surfaces here.
    const e = err as NodeJS.ErrnoException;
    throw new ServerStartError(`metrics server: cannot start HTTPS: ${e.message}`, e.code, { cause: err });
  }
  // Bounded requests: slow or oversized ones get a 4xx from Node, never a hung socket.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(
        new ServerStartError(
          `metrics server: cannot listen on ${urlOf(false, opts.addr, opts.port, '').replace('http://', '')}: ${err.message}`,
          err.code,
          { cause: err },
        ),
      );
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port: opts.port, host: opts.addr });
  });
  return server;
}

/** Closes a listener: stops accepting, lets in-flight scrapes finish for a moment, then cuts. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** A running metrics server (`startHttpServer`). */
export class MetricsHTTPServer {
  /** Where it listens, as bound. */
  readonly socket: BoundSocket;
  /** Full URL of the metrics path, IPv6 hosts in brackets. */
  readonly url: string;
  /** True for HTTPS. */
  readonly https: boolean;
  /** The underlying Node server. */
  readonly server: Server;
  readonly #registrations: Registrations;

  /** @internal */
  constructor(server: Server, https: boolean, path: string, registrations: Registrations) {
    const a = server.address() as AddressInfo;
    this.server = server;
    this.https = https;
    this.socket = Object.freeze({ addr: a.address, port: a.port });
    this.url = urlOf(https, a.address, a.port, path);
    this.#registrations = registrations;
  }

  /** True while the service-discovery registrations are in effect. */
  get isRegistered(): boolean {
    return this.#registrations.isRegistered;
  }

  /**
   * Deregisters, then closes the listener — always, even when deregistration fails; that error
   * is thrown after the listener is closed. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    return this.#registrations.close(() => closeServer(this.server));
  }
}

/**
 * Starts the metrics server in the calling thread and registers it with the given service
 * discovery once it listens. Rejects (and leaves nothing running) when it cannot listen or a
 * plugin's registration throws.
 *
 * ```ts
 * const server = await startHttpServer({ port: 9464 });
 * console.log(`metrics at ${server.url}`);
 * ```
 */
export async function startHttpServer(options?: MetricsServerOptions): Promise<MetricsHTTPServer> {
  const opts = resolveServerOptions(options);
  const registrations = Registrations.of(options?.serviceDiscovery);
  const registry = options?.registry ?? getGlobalRegistry();
  const source: ExpositionSource = async (contentType, gzip) => ({
    body: await registry.metricsBuffer({ contentType, gzip }),
  });
  await importHono();
  const app = createMetricsApp({
    source,
    path: opts.path,
    compression: opts.compression,
    auth: opts.auth,
    httpSd: options?.httpSd,
  });
  const server = await listen(opts, app.fetch);
  const result = new MetricsHTTPServer(server, opts.tls !== undefined, opts.path, registrations);
  try {
    await registrations.register(serverInfo(result.socket, result.https, opts.path));
  } catch (err) {
    await closeServer(server);
    throw err;
  }
  return result;
}
