import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ServerStartError } from '../errors';
import { combineServiceDiscovery } from '../sd/combine';
import { getGlobalRegistry } from '../metrics/registry';
import type { Registry } from '../metrics/registry';
import type { Deregister, MetricsServerInfo, ServiceDiscovery } from '../sd/types';
import { createMetricsApp, registryExposition } from './app';
import { importHono, importNodeServer } from './hono';
import type { ExpositionSource } from './app';
import { checkLogger, defaultLogger, LogThrottle } from '../log';
import type { Logger } from '../log';
import { resolveServerOptions, serverChecks, urlOf } from './options';
import type { MetricsServerOptions, ResolvedServerOptions } from './options';
import { closeOnSignals } from '../signals';

/** Where a server actually listens. */
export interface BoundSocket {
  /** The bound address (`0.0.0.0`, `::`, `127.0.0.1`, ...). */
  readonly addr: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
}

/** Time a closing server gives in-flight scrapes before it cuts their connections. */
const CLOSE_GRACE_MS = 2000;

/** How a plugin is named in errors: its `name`, its class, or its place in `serviceDiscovery`. */
function pluginName(p: ServiceDiscovery, index: number | undefined): string {
  const where = index === undefined ? 'serviceDiscovery' : `serviceDiscovery[${index}]`;
  const own = (p as { name?: unknown }).name;
  const ctor = (p as object).constructor?.name;
  const name = typeof own === 'string' && own !== '' ? own : ctor && ctor !== 'Object' ? ctor : undefined;
  return name === undefined ? where : `${name} (${where})`;
}

/** `p` whose registration failures name it (a raw `TypeError: fetch failed` names nothing). */
function named(p: ServiceDiscovery, index: number | undefined): ServiceDiscovery {
  const label = pluginName(p, index);
  return {
    get isRegistered() {
      return p.isRegistered;
    },
    async register(info) {
      try {
        return await p.register(info);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const why = err instanceof Error ? `${e.name}: ${e.message}` : String(err);
        throw new ServerStartError(
          `metrics server: service discovery plugin ${label} failed to register: ${why}`,
          e?.code,
          {
            cause: err,
          },
        );
      }
    },
  };
}

/**
 * Service-discovery bookkeeping shared by the in-thread and the threaded server: registers once
 * the socket is bound, deregisters once on close, tells whether the registration holds. Several
 * plugins are combined with `combineServiceDiscovery` (all or nothing). When a plugin asks for
 * signal handling (`ConsulAgent({ handleSignals: true })`), the server owns it: SIGTERM/SIGINT
 * close the whole server — every plugin deregistered, the listener closed — and then end the
 * process as the signal would have, unless the application handles the signal too.
 */
export class Registrations {
  readonly #plugin: ServiceDiscovery | undefined;
  readonly #wantsSignals: boolean;
  #deregister: Deregister | null = null;
  #registered = false;
  #closing: Promise<void> | undefined;
  #onSignal: (() => void) | undefined;

  private constructor(plugins: ServiceDiscovery[], single: boolean) {
    this.#wantsSignals = plugins.some((p) => (p as { handleSignals?: unknown }).handleSignals === true);
    const wrapped = plugins.map((p, i) => named(p, single ? undefined : i));
    this.#plugin =
      wrapped.length === 0 ? undefined : wrapped.length === 1 ? wrapped[0] : combineServiceDiscovery(wrapped);
  }

  /** Checks the `serviceDiscovery` option. */
  static of(sd: MetricsServerOptions['serviceDiscovery']): Registrations {
    if (sd === undefined) return new Registrations([], true);
    if (Array.isArray(sd)) {
      combineServiceDiscovery(sd); // checks every element
      return new Registrations(sd, false);
    }
    if (typeof sd !== 'object' || sd === null || typeof (sd as ServiceDiscovery).register !== 'function') {
      serverChecks.fail('serviceDiscovery', sd, 'must be a plugin with register(server), or an array of them');
    }
    return new Registrations([sd], true);
  }

  /** True when a plugin asked for SIGTERM/SIGINT handling: the server then installs it. */
  get handlesSignals(): boolean {
    return this.#wantsSignals;
  }

  /** True while the registration is in effect (plugins that retry in the background report their own state). */
  get isRegistered(): boolean {
    return this.#plugin !== undefined && this.#registered && this.#plugin.isRegistered !== false;
  }

  /** Registers; then, if a plugin asked for it, `close` runs on SIGTERM/SIGINT. */
  async register(info: MetricsServerInfo, close?: () => Promise<void>): Promise<void> {
    if (this.#plugin === undefined) return;
    this.#deregister = await this.#plugin.register(info);
    this.#registered = true;
    if (this.#wantsSignals && close !== undefined && this.#closing === undefined) this.#installSignals(close);
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
      this.#removeSignals();
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

  #installSignals(close: () => Promise<void>): void {
    this.#removeSignals();
    this.#onSignal = closeOnSignals(close, {
      onError: (err, signal) =>
        defaultLogger().error(
          `promsd: closing the metrics server on ${signal} failed: ${(err as Error)?.message ?? String(err)}`,
        ),
    });
  }

  #removeSignals(): void {
    this.#onSignal?.();
    this.#onSignal = undefined;
  }
}

/** Builds the server info handed to service-discovery plugins. */
export function serverInfo(
  socket: BoundSocket,
  https: boolean,
  path: string,
  signalsHandled = false,
): MetricsServerInfo {
  return {
    socket,
    url: urlOf(https, socket.addr, socket.port, path),
    path,
    https,
    healthPath: '/healthz',
    ...(signalsHandled ? { signalsHandled: true } : {}),
  };
}

/** Starts a Node server for `app.fetch` and resolves once it listens (or rejects with why not). */
export async function listen(
  opts: ResolvedServerOptions,
  fetch: (req: Request) => Response | Promise<Response>,
  logger: Logger = defaultLogger(),
): Promise<Server> {
  // Loaded when a server starts: requiring promsd to instrument does not load the adapter.
  const { createAdaptorServer } = await importNodeServer();
  // Bounded requests: slow or oversized ones get a 408 from Node, never a held socket. Node
  // checks the timeouts every `connectionsCheckingInterval` (30 s by default, which let slow
  // clients hold sockets 3x past a 10 s headers timeout): every second here, or every half
  // timeout for shorter ones.
  const edge = {
    headersTimeout: opts.headersTimeoutMs,
    requestTimeout: opts.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(opts.headersTimeoutMs / 2))),
  };
  let server: Server;
  try {
    // `hostname`: what the adapter puts in the request URL when the client sent no Host header
    // (HTTP/1.0); Node itself requires Host only of HTTP/1.1 requests.
    server = (
      opts.tls
        ? createAdaptorServer({
            fetch,
            hostname: 'localhost',
            createServer: createHttpsServer,
            serverOptions: { ...edge, ...opts.tls },
          })
        : createAdaptorServer({ fetch, hostname: 'localhost', createServer: createHttpServer, serverOptions: edge })
    ) as Server;
  } catch (err) {
    // Unparsable TLS material surfaces here.
    const e = err as NodeJS.ErrnoException;
    throw new ServerStartError(`metrics server: cannot start HTTPS: ${e.message}`, e.code, { cause: err });
  }
  server.maxRequestsPerSocket = 0;
  server.maxConnections = opts.maxConnections;
  const refused = new LogThrottle(logger);
  server.on('drop', () =>
    refused.log(
      'warn',
      'maxConnections',
      `promsd: metrics server at maxConnections (${opts.maxConnections}): refusing new connections`,
    ),
  );
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

/**
 * The registry's exposition; when the aggregate cannot be read (the backend is unreachable), this
 * process's own metrics instead, marked `X-Promsd-Fallback: local`, and the cause logged
 * (throttled). The rule is `registryExposition`'s (app.ts), shared with the threaded server.
 */
export function withLocalFallback(registry: Registry, logger: Logger): ExpositionSource {
  return (asked, gzip) => registryExposition(registry, asked, gzip, { fallbackLogger: logger });
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
  const logger = checkLogger('metrics server', options?.logger);
  const registry = options?.registry ?? getGlobalRegistry();
  const source = withLocalFallback(registry, logger);
  await importHono();
  const app = createMetricsApp({
    source,
    path: opts.path,
    compression: opts.compression,
    auth: opts.auth,
    httpSd: options?.httpSd,
    logger,
  });
  const server = await listen(opts, app.fetch, logger);
  const result = new MetricsHTTPServer(server, opts.tls !== undefined, opts.path, registrations);
  try {
    await registrations.register(serverInfo(result.socket, result.https, opts.path, registrations.handlesSignals), () =>
      result.close(),
    );
  } catch (err) {
    await closeServer(server);
    throw err;
  }
  return result;
}
