/** The metrics HTTP server, its handlers for users' own apps, and its threaded variant. */
export { startHttpServer, MetricsHTTPServer } from './http';
export type { BoundSocket } from './http';
export { startHttpServerInThread, ThreadedMetricsHTTPServer } from './thread';
export type { ThreadedMetricsServerOptions } from './thread';
export { metricsHandler, metricsRequestListener, serverStats } from './app';
export type { MetricsHandlerOptions } from './app';
export type { AuthOptions, MetricsServerCoreOptions, MetricsServerOptions, TlsOptions } from './options';
