import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { ServerStartError } from '../metrics/errors';
import { getGlobalRegistry } from '../metrics/registry';
import type { Deregister, MetricsServerInfo, ServiceDiscovery } from '../sd/types';
import { createMetricsApp } from './app';
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
 * Registers with every plugin; if one fails, undoes the ones that succeeded and rethrows.
 * Returns the deregister functions in registration order.
 */
async function registerAll(plugins: ServiceDiscovery[], info: MetricsServerInfo): Promise<Deregister[]> {
  const done: Deregister[] = [];
  for (const p of plugins) {
    try {
      const d = await p.register(info);
      if (d) done.push(d);
    } catch (err) {
      await deregisterAll(done).catch(() => undefined);
      throw err;
    }
  }
  return done;
}

/** Runs every deregister (last registered first) even when some throw; then throws them all. */
async function deregisterAll(list: Deregister[]): Promise<void> {
  const errors: unknown[] = [];
  for (const d of [...list].reverse()) {
    try {
      await d();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} service-discovery deregistrations failed`);
}

function pluginsOf(sd: MetricsServerOptions['serviceDiscovery']): ServiceDiscovery[] {
  if (sd === undefined) return [];
  const list = Array.isArray(sd) ? sd : [sd];
  list.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof (p as ServiceDiscovery).register !== 'function') {
      throw new ServerStartError(`metrics server option "serviceDiscovery"${Array.isArray(sd) ? `[${i}]` : ''}: expected an object with register(server)`);
    }
  });
  return list;
}

/**
 * Service-discovery bookkeeping shared by the in-thread and the threaded server: registers once
 * the socket is bound, deregisters once on close, tells whether the registrations hold.
 */
export class Registrations {
  #plugins: ServiceDiscovery[];
  #deregisters: Deregister[] = [];
  #registered = false;

  constructor(plugins: ServiceDiscovery[]) {
    this.#plugins = plugins;
  }

  static of(sd: MetricsServerOptions['serviceDiscovery']): Registrations {
    return new Registrations(pluginsOf(sd));
  }

  /** True while every plugin's registration is in effect (plugins that retry in the background report their own state). */
  get isRegistered(): boolean {
    if (this.#plugins.length === 0 || !this.#registered) return false;
    return this.#plugins.every((p) => p.isRegistered ?? true);
  }

  async register(info: MetricsServerInfo): Promise<void> {
    this.#deregisters = await registerAll(this.#plugins, info);
    this.#registered = true;
  }

  async deregister(): Promise<void> {
    const list = this.#deregisters;
    this.#deregisters = [];
    this.#registered = false;
    await deregisterAll(list);
  }
}

/** Builds the server info handed to service-discovery plugins. */
export function serverInfo(socket: BoundSocket, https: boolean, path: string): MetricsServerInfo {
  return { socket, url: urlOf(https, socket.addr, socket.port, path), path, https, healthPath: '/healthz' };
}

/** Starts a Node server for `app.fetch` and resolves once it listens (or rejects with why not). */
export async function listen(opts: ResolvedServerOptions, fetch: (req: Request) => Response | Promise<Response>): Promise<Server> {
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
      reject(new ServerStartError(`metrics server: cannot listen on ${urlOf(false, opts.addr, opts.port, '').replace('http://', '')}: ${err.message}`, err.code, { cause: err }));
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
  #closing: Promise<void> | undefined;

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
    return (this.#closing ??= (async () => {
      let failure: { err: unknown } | undefined;
      try {
        await this.#registrations.deregister();
      } catch (err) {
        failure = { err };
      }
      await closeServer(this.server);
      if (failure) throw failure.err;
    })());
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
  const source: ExpositionSource = async (contentType, gzip) => ({ body: await registry.metricsBuffer({ contentType, gzip }) });
  const app = createMetricsApp({ source, path: opts.path, compression: opts.compression, auth: opts.auth, httpSd: options?.httpSd });
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
