// The process's backend. Only the global registry aggregates across processes: it is the one
// every thread and process shares by name (metrics of other registries stay local).
import { BackendLoadedError } from '../errors';
import { setGlobalAggregate } from '../metrics/aggregate-source';
import type { Backend } from './types';

let current: Backend | undefined;

/**
 * Makes the global registry's metrics — created before or after this call — aggregate across
 * every process that loads a backend with the same target and prefix; `register.metrics()` then
 * renders the aggregate.
 */
export function loadBackend(backend: Backend): Backend {
  if (current !== undefined && current !== backend) {
    throw new BackendLoadedError('loadBackend: a backend is already loaded in this process; close() it first');
  }
  if (current === backend) return backend;
  backend.start();
  current = backend;
  setGlobalAggregate(backend);
  return backend;
}

/** The loaded backend, if any. */
export function getBackend(): Backend | undefined {
  return current;
}

/** @internal Called by a backend's close(). */
export function unloadBackend(backend: Backend): void {
  if (current === backend) {
    current = undefined;
    setGlobalAggregate(undefined);
  }
}
