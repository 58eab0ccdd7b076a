// The process's backend. Only the global registry aggregates across processes: it is the one
// every thread and process shares by name (metrics of other registries stay local).
//
// Where the global registry's exposition comes from is the core's to say (native/src/route_api.rs),
// for every thread alike: a backend the core holds (RedisBackend, EmbeddedBackend) is known to it
// once opened; a JS backend (IoredisBackend, whose I/O runs on this thread's event loop) is
// registered with it here, and the core calls it back on this thread to render for any thread.
import { BackendLoadedError, show } from '../errors';
import { native } from '../metrics/native';
import type * as NativeTypes from '../native/index';
import type { Backend } from './types';

/** How long a scrape from any thread waits for a JS backend's render (flush + one read). */
const JS_RENDER_TIMEOUT_MS = 10_000;

let current: Backend | undefined;
/** The core's token for the JS backend registered by this thread. */
let token: number | undefined;

/**
 * Makes the global registry's metrics — created before or after this call — aggregate across
 * every process that loads a backend with the same target and prefix; `register.metrics()` then
 * renders the aggregate, in every thread of the process. One backend per process.
 */
export function loadBackend(backend: Backend): Backend {
  if (current !== undefined && current !== backend) {
    throw new BackendLoadedError('loadBackend: a backend is already loaded in this process; close() it first');
  }
  if (current === backend) return backend;
  if (backend.inCore === true) {
    backend.start();
  } else {
    const registered = register(backend);
    try {
      backend.start();
    } catch (err) {
      native.routeUnregister(registered);
      throw err;
    }
    token = registered;
  }
  current = backend;
  return backend;
}

/** Registers a JS backend with the core, which calls it on this thread for every thread's scrape. */
function register(backend: Backend): number {
  const own = backend.constructor?.name;
  const name = own && own !== 'Object' ? own : 'the JS backend';
  const protobuf = typeof backend.renderProtobuf === 'function';
  const bytesOf = (method: string, value: unknown): Buffer => {
    if (method === 'render' && typeof value === 'string') return Buffer.from(value, 'utf8');
    if (method === 'renderProtobuf' && Buffer.isBuffer(value)) return value;
    const want = method === 'render' ? 'a string' : 'a Buffer';
    throw new Error(`promsd: ${name}'s ${method}() resolved with ${show(value)}, not ${want}`);
  };
  const render = (id: number, format: NativeTypes.ExpositionFormat, defaultLabels: string[]): void => {
    const method = protobuf && (format as string) === 'protobuf' ? 'renderProtobuf' : 'render';
    // Any failure, thrown or rejected, becomes the scrape's error: never an uncaught one here.
    new Promise<unknown>((resolve) =>
      resolve(
        method === 'renderProtobuf'
          ? backend.renderProtobuf?.({ defaultLabels })
          : backend.render({ openMetrics: (format as string) === 'openmetrics', defaultLabels }),
      ),
    )
      .then((value) => native.routeReply(id, bytesOf(method, value), undefined))
      .catch((err: unknown) => native.routeReply(id, undefined, err instanceof Error ? err.message : String(err)));
  };
  try {
    return native.routeRegister(name, protobuf, JS_RENDER_TIMEOUT_MS, render);
  } catch (err) {
    // Another thread of this process loaded one.
    throw new BackendLoadedError(`loadBackend: ${(err as Error).message.replace(/^promsd: /, '')}`);
  }
}

/** The backend loaded by this thread, if any. */
export function getBackend(): Backend | undefined {
  return current;
}

/** @internal Called by a backend's close(). */
export function unloadBackend(backend: Backend): void {
  if (current !== backend) return;
  current = undefined;
  if (token !== undefined) native.routeUnregister(token);
  token = undefined;
}
