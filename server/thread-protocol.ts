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
  /** Where the aggregate comes from (the global registry only): none, the core, or the owner's JS backend. */
  backend: BackendPlace;
}

/** `none`: the process's own store; `core`: the core's backend (any thread renders); `owner`: a JS backend on the owning thread. */
export type BackendPlace = 'none' | 'core' | 'owner';

/** Worker → owner. */
export type WorkerMessage =
  | { type: 'listening'; addr: string; port: number }
  | { type: 'error'; message: string; code?: string }
  | { type: 'collect'; id: number }
  | { type: 'render'; id: number; openMetrics: boolean; gzip: boolean; defaultLabels: Record<string, string> }
  | { type: 'closed' }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string };

/** Owner → worker. */
export type OwnerMessage =
  | {
      type: 'collected';
      id: number;
      at: number;
      defaultLabels: Record<string, string>;
      backend: BackendPlace;
      error?: string;
    }
  | { type: 'rendered'; id: number; body?: Uint8Array; error?: string }
  | { type: 'close' };
