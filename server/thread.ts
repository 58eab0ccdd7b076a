import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ServerStartError } from '../errors';
import { checkLogger } from '../log';
import { getGlobalRegistry } from '../metrics/registry';
import type { BoundSocket } from './http';
import { Registrations, serverInfo } from './http';
import { resolveServerOptions, serverChecks, urlOf } from './options';
import type { MetricsServerOptions } from './options';
import type { OwnerMessage, WorkerMessage, WorkerStart } from './thread-protocol';

/** Options of `startHttpServerInThread`. */
export interface ThreadedMetricsServerOptions extends Omit<MetricsServerOptions, 'httpSd'> {
  /**
   * How long a scrape waits for this thread to run the registry's `collect` callbacks (default
   * 0: it does not wait, and callback-fed values are as of the previous collect, run right after
   * each scrape). Values written by ordinary updates are always current.
   */
  collectTimeoutMs?: number;
  /** How long to wait for the worker to listen before giving up; default 10000. */
  startTimeoutMs?: number;
}

/** How long `close()` waits for the worker to finish before terminating it. */
const STOP_TIMEOUT_MS = 5000;

function workerEntry(): string {
  const beside = join(__dirname, 'worker.js');
  if (existsSync(beside)) return beside;
  // Running from TypeScript sources (tests): use the build.
  const built = join(__dirname, '..', 'dist', 'server', 'worker.js');
  if (existsSync(built)) return built;
  throw new ServerStartError(
    `metrics server: worker entry not found (looked for ${beside} and ${built}); run the build`,
  );
}

/**
 * A metrics server running in its own worker thread (`startHttpServerInThread`): it answers
 * scrapes while this thread is busy.
 */
export class ThreadedMetricsHTTPServer {
  /** Where it listens, as bound. */
  readonly socket: BoundSocket;
  /** Full URL of the metrics path, IPv6 hosts in brackets. */
  readonly url: string;
  /** True for HTTPS. */
  readonly https: boolean;
  /** The worker thread serving the scrapes. */
  readonly worker: Worker;
  readonly #registrations: Registrations;
  readonly #stop: () => Promise<void>;

  /** @internal */
  constructor(
    worker: Worker,
    socket: BoundSocket,
    https: boolean,
    path: string,
    registrations: Registrations,
    stop: () => Promise<void>,
  ) {
    this.worker = worker;
    this.socket = Object.freeze(socket);
    this.https = https;
    this.url = urlOf(https, socket.addr, socket.port, path);
    this.#registrations = registrations;
    this.#stop = stop;
  }

  /** True while the service-discovery registrations are in effect. */
  get isRegistered(): boolean {
    return this.#registrations.isRegistered;
  }

  /**
   * Deregisters, then stops the worker (it closes its listener and exits; it is terminated if it
   * has not within 5 s) — always, even when deregistration fails; that error is thrown after.
   * Calling it again returns the same promise.
   */
  close(): Promise<void> {
    return this.#registrations.close(this.#stop);
  }
}

/**
 * Starts the metrics server in a worker thread. It resolves once the worker listens, and rejects
 * promptly when the worker cannot start (port taken, bad TLS material, worker crash) or does not
 * listen within `startTimeoutMs`. Service discovery runs in this thread, once the worker listens.
 *
 * ```ts
 * const server = await startHttpServerInThread({ port: 9464 });
 * // scrapes are answered even while this thread is busy
 * ```
 */
export async function startHttpServerInThread(
  options?: ThreadedMetricsServerOptions,
): Promise<ThreadedMetricsHTTPServer> {
  const { collectTimeoutMs = 0, startTimeoutMs = 10_000, ...rest } = options ?? {};
  if (typeof collectTimeoutMs !== 'number' || !Number.isFinite(collectTimeoutMs) || collectTimeoutMs < 0) {
    serverChecks.fail('collectTimeoutMs', collectTimeoutMs, 'must be a number ≥ 0');
  }
  if (typeof startTimeoutMs !== 'number' || !Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    serverChecks.fail('startTimeoutMs', startTimeoutMs, 'must be a number > 0');
  }
  const opts = resolveServerOptions(rest, true);
  const logger = checkLogger('metrics server', rest.logger);
  const registrations = Registrations.of(rest.serviceDiscovery);
  const registry = rest.registry ?? getGlobalRegistry();
  const start: WorkerStart = {
    options: opts,
    registryId: registry.id,
    defaultLabels: registry.getDefaultLabels(),
    collectTimeoutMs,
  };
  const worker = new Worker(workerEntry(), { workerData: start, name: 'promsd-metrics-server' });

  let exited = false;
  const exit = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  let _collecting: Promise<void> | undefined;
  const collect = (id: number): void => {
    // One collect at a time; requests that arrive meanwhile are answered by it.
    _collecting ??= registry
      .collect()
      .then(
        () => undefined,
        (err: unknown) => String(err instanceof Error ? err.message : err),
      )
      .then((error) => {
        _collecting = undefined;
        const reply: OwnerMessage = {
          type: 'collected',
          id,
          at: Date.now(),
          defaultLabels: registry.getDefaultLabels(),
        };
        if (error !== undefined) reply.error = error;
        if (!exited) worker.postMessage(reply);
      });
  };

  const socket = await new Promise<BoundSocket>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      void worker.terminate();
      reject(
        new ServerStartError(`metrics server: the worker did not listen within ${startTimeoutMs} ms`, 'ETIMEDOUT'),
      );
    }, startTimeoutMs);
    const onMessage = (m: WorkerMessage): void => {
      if (m.type === 'listening') {
        cleanup();
        resolve({ addr: m.addr, port: m.port });
      } else if (m.type === 'error') {
        cleanup();
        void worker.terminate();
        reject(
          new ServerStartError(`metrics server: cannot listen on ${opts.addr}:${opts.port}: ${m.message}`, m.code),
        );
      }
    };
    const onError = (err: Error): void => {
      cleanup();
      void worker.terminate();
      reject(
        new ServerStartError(`metrics server: the worker failed to start: ${err.message}`, undefined, { cause: err }),
      );
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new ServerStartError(`metrics server: the worker exited (code ${code}) before listening`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });

  // Running: collect requests, and crash reports (a crashed worker exits; close() still works).
  worker.on('message', (m: WorkerMessage) => {
    if (m.type === 'collect') collect(m.id);
    else if (m.type === 'log') logger[m.level](m.message);
  });
  worker.on('error', (err) => logger.error(`promsd: the metrics server worker failed: ${err.message}`));

  const stop = async (): Promise<void> => {
    if (exited) return;
    worker.postMessage({ type: 'close' } satisfies OwnerMessage);
    const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
    await exit;
    clearTimeout(timer);
  };
  const server = new ThreadedMetricsHTTPServer(worker, socket, opts.tls !== undefined, opts.path, registrations, stop);
  try {
    await registrations.register(serverInfo(server.socket, server.https, opts.path, registrations.handlesSignals), () =>
      server.close(),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return server;
}
