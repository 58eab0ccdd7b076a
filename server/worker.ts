/**
 * Entry point of the worker thread behind `startHttpServerInThread`. It serves the registry the
 * owner named by reading the process-wide store directly: no scrape needs the owner's event loop.
 * Only the owner's JS `collect` callbacks do; they are requested after each scrape (or awaited for
 * at most `collectTimeoutMs`), so callback-fed values are as of the owner's last collect, whose
 * time the response carries in `X-Promsd-Collected-At`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';

const gzipAsync = promisify(gzipCb);
import { native } from '../metrics/native';
import { exposition, OPENMETRICS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, Registry } from '../metrics/registry';
import type { ExpositionContentType, RegistryContentType } from '../metrics/registry';
import { createMetricsApp } from './app';
import { closeServer, listen, LOCAL_FALLBACK_HEADER } from './http';
import { logScrapeFailure } from './app';
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
let backend = start.backend;
let collectedAt = Date.now();
let nextId = 1;
const pending = new Map<number, () => void>();
/** Bound on a core backend render (flush + one read). */
const RENDER_TIMEOUT_MS = 15_000;
const renders = new Map<number, (m: { body?: Uint8Array; error?: string }) => void>();
/** How long a scrape waits for the owner to render through its JS backend. */
const OWNER_RENDER_TIMEOUT_MS = 10_000;
// Content type only matters for metrics(); this registry is a view on the owner's by id.
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

/** The aggregate rendered by the owner's JS backend (bounded wait: never a hung scrape). */
function renderByOwner(contentType: RegistryContentType, gzip: boolean): Promise<Buffer> {
  const id = nextId++;
  post({ type: 'render', id, openMetrics: contentType === OPENMETRICS_CONTENT_TYPE, gzip, defaultLabels });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      renders.delete(id);
      reject(
        new Error(`the owning thread did not render within ${OWNER_RENDER_TIMEOUT_MS} ms (its backend lives in JS)`),
      );
    }, OWNER_RENDER_TIMEOUT_MS);
    renders.set(id, (m) => {
      clearTimeout(timer);
      if (m.body === undefined) reject(new Error(m.error ?? 'render failed'));
      else resolve(Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength));
    });
  });
}

async function source(
  asked: ExpositionContentType,
  gzip: boolean,
): Promise<{ body: Buffer; headers: Record<string, string>; contentType: ExpositionContentType }> {
  await requestCollect(start.collectTimeoutMs);
  const headers: Record<string, string> = { 'x-promsd-collected-at': new Date(collectedAt).toISOString() };
  // The owner's JS backend renders text only: a protobuf request gets OpenMetrics, its next choice.
  const textOnly = start.registryId === 0 && backend === 'owner';
  const contentType = asked === PROTOBUF_CONTENT_TYPE && textOnly ? OPENMETRICS_CONTENT_TYPE : asked;
  const local = (): Promise<Buffer> => registry.metricsBuffer({ contentType, collect: false, defaultLabels, gzip });
  let body: Buffer;
  try {
    if (start.registryId === 0 && backend === 'core' && contentType === PROTOBUF_CONTENT_TYPE) {
      const bytes = await native.backendRenderProtobuf(Object.entries(defaultLabels).flat(), RENDER_TIMEOUT_MS);
      body = gzip && bytes.length >= 1024 ? await gzipAsync(bytes, { level: 1 }) : bytes;
    } else if (start.registryId === 0 && backend === 'core') {
      const openMetrics = contentType === OPENMETRICS_CONTENT_TYPE;
      body = await exposition(
        await native.backendRender(openMetrics, Object.entries(defaultLabels).flat(), RENDER_TIMEOUT_MS),
        gzip,
      );
    } else if (textOnly) {
      body = await renderByOwner(contentType as RegistryContentType, gzip);
    } else {
      body = await local();
    }
  } catch (err) {
    if (start.registryId !== 0 || backend === 'none') throw err;
    // The aggregate is unavailable: serve this process's own series (as startHttpServer does).
    logScrapeFailure(err, logger, 'warn');
    body = await local();
    headers[LOCAL_FALLBACK_HEADER] = 'local';
  }
  return { body, contentType, headers };
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
      if (m.type === 'rendered') {
        const done = renders.get(m.id);
        renders.delete(m.id);
        done?.(m);
      } else if (m.type === 'collected') {
        defaultLabels = m.defaultLabels;
        backend = m.backend;
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
