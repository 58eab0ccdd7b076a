/**
 * `promsd/backend`: cross-process aggregation — `loadBackend` with a Redis backend (Rust client or
 * ioredis), the embedded aggregator, and `renderRedis` for a process that only renders.
 */
export { loadBackend, getBackend } from '../backend/load';
export { RedisBackend, renderRedis } from '../backend/redis';
export type { RedisBackendOptions, RenderRedisOptions } from '../backend/redis';
export { AGGREGATOR_SOCKET_ENV, EmbeddedBackend, createBackend } from '../backend/embedded';
export type { EmbeddedBackendOptions } from '../backend/embedded';
export { IoredisBackend, type IoredisBackendOptions } from '../backend/ioredis';
export type { Backend, Logger, RenderOptions } from '../backend/types';
export { BackendConfigError, BackendLoadedError } from '../errors';
