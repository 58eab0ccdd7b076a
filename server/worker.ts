/**
 * Entry point of the worker thread behind `startHttpServerInThread`. It serves the registry the
 * owner named by reading the process-wide store directly: no scrape needs the owner's event loop.
 * Only the owner's JS `collect` callbacks do; they are requested after each scrape (or awaited for
 * at most `collectTimeoutMs`), so callback-fed values are as of the owner's last collect, whose
 * time the response carries in `X-Promsd-Collected-At`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Registry } from '../metrics/registry';
import type { RegistryContentType } from '../metrics/registry';
import { createMetricsApp } from './app';
import { closeServer, listen } from './http';
import type { OwnerMessage, WorkerMessage, WorkerStart } from './thread-protocol';

const port = parentPort;
if (port === null) throw new Error('promsd: server/worker.js runs only as a worker thread');
const start = workerData as WorkerStart;
const post = (m: WorkerMessage): void => port.postMessage(m);

let defaultLabels = start.defaultLabels;
let collectedAt = Date.now();
let nextId = 1;
const pending = new Map<number, () => void>();
// Content type only matters for metrics(); this registry is a view on the owner's by id.
const registry = new Registry(undefined, start.registryId);

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

async function source(contentType: RegistryContentType, gzip: boolean): Promise<{ body: Buffer; headers: Record<string, string> }> {
  await requestCollect(start.collectTimeoutMs);
  const body = await registry.metricsBuffer({ contentType, collect: false, defaultLabels, gzip });
  return { body, headers: { 'x-promsd-collected-at': new Date(collectedAt).toISOString() } };
}

const app = createMetricsApp({ source, path: start.options.path, compression: start.options.compression, auth: start.options.auth });

listen(start.options, app.fetch).then(
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
