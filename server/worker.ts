/**
 * Entry point of the worker thread behind `startHttpServerInThread`. It serves the registry the
 * owner named by reading the process-wide store directly: no scrape needs the owner's event loop.
 * Only the owner's JS `collect` callbacks do; they are requested after each scrape (or awaited for
 * at most `collectTimeoutMs`), so callback-fed values are as of the owner's last collect, whose
 * time the response carries in `X-Promsd-Collected-At`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Registry } from '../metrics/registry';
import type { ExpositionContentType } from '../metrics/registry';
import { createMetricsApp, registryExposition } from './app';
import { closeServer, listen } from './http';
import type { Logger } from '../log';
import type { OwnerMessage, WorkerMessage, WorkerStart } from './thread-protocol';

const port = parentPort;
if (port === null) throw new Error('promsd: server/worker.js runs only as a worker thread');
const start = workerData as WorkerStart;
const post = (m: WorkerMessage): void => port.postMessage(m);
/** Logs through the owner's logger (a JS logger cannot cross threads). */
const logger: Logger = {
  debug: (message) => post({ type: 'log', level: 'debug', message }),
  info: (message) => post({ type: 'log', level: 'info', message }),
  warn: (message) => post({ type: 'log', level: 'warn', message }),
  error: (message) => post({ type: 'log', level: 'error', message }),
};

let defaultLabels = start.defaultLabels;
let collectedAt = Date.now();
let nextId = 1;
const pending = new Map<number, () => void>();
// Content type only matters for metrics(); this registry is a view on the owner's by id. Where
// its exposition comes from (the aggregate through the process's backend, or the store) is the
// core's answer at each scrape, as for every thread: nothing about the backend is kept here.
const registry = Registry.byId(start.registryId);

/** Asks the owner to run its collect callbacks; resolves when done or after `timeoutMs`. */
function requestCollect(timeoutMs: number): Promise<void> {
  const id = nextId++;
  post({ type: 'collect', id });
  if (timeoutMs <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve();
    }, timeoutMs);
    pending.set(id, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function source(
  asked: ExpositionContentType,
  gzip: boolean,
): Promise<{ body: Buffer; headers: Record<string, string>; contentType: ExpositionContentType }> {
  await requestCollect(start.collectTimeoutMs);
  const collected = { 'x-promsd-collected-at': new Date(collectedAt).toISOString() };
  const r = await registryExposition(registry, asked, gzip, { collect: false, defaultLabels, fallbackLogger: logger });
  return { body: r.body, contentType: r.contentType, headers: { ...collected, ...r.headers } };
}

const app = createMetricsApp({
  source,
  path: start.options.path,
  compression: start.options.compression,
  auth: start.options.auth,
  logger,
});

listen(start.options, app.fetch, logger).then(
  (server) => {
    port.on('message', (m: OwnerMessage) => {
      if (m.type === 'collected') {
        defaultLabels = m.defaultLabels;
        collectedAt = m.at;
        const done = pending.get(m.id);
        pending.delete(m.id);
        done?.();
      } else if (m.type === 'close') {
        void closeServer(server).then(() => {
          post({ type: 'closed' });
          port.close();
        });
      }
    });
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('promsd: the metrics server has no TCP address');
    post({ type: 'listening', addr: a.address, port: a.port });
  },
  (err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    post({ type: 'error', message: e.message, code: e.code });
    port.close();
  },
);
