/**
 * `promsd/server`: the metrics HTTP server (`startHttpServer`, in a worker thread
 * `startHttpServerInThread`), the handlers for your own app and the Hono middleware.
 */
import * as hono from 'hono';
import { provideHono } from '../server/hono';

// This subpath is for apps that serve HTTP: Hono is loaded with it, in the importer's format.
provideHono(hono);

export * from '../server/index';
export { metricsMiddleware } from '../server/middleware';
export type { MetricsMiddlewareOptions } from '../server/middleware';
