// The messages between the owner of a threaded metrics server and its worker. Where the global
// registry's exposition comes from (a backend, or the store) is not among them: the worker asks
// the core at each scrape, like every thread (native/src/route_api.rs).
import type { ResolvedServerOptions } from './options';

/** What the threaded server's worker is started with. */
export interface WorkerStart {
  options: ResolvedServerOptions;
  /** Core id of the registry to expose (shared by every thread of the process). */
  registryId: number;
  /** Default labels of that registry when the server started. */
  defaultLabels: Record<string, string>;
  /** How long a scrape waits for the owning thread's `collect` callbacks; 0 = not at all. */
  collectTimeoutMs: number;
}

/** Worker → owner. */
export type WorkerMessage =
  | { type: 'listening'; addr: string; port: number }
  | { type: 'error'; message: string; code?: string }
  | { type: 'collect'; id: number }
  | { type: 'closed' }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string };

/** Owner → worker. */
export type OwnerMessage =
  | { type: 'collected'; id: number; at: number; defaultLabels: Record<string, string>; error?: string }
  | { type: 'close' };
