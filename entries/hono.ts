/**
 * promsd for Hono apps: request metrics and the metrics route.
 *
 * ```ts
 * import { metricsMiddleware, metricsHandler } from 'promsd/hono';
 * app.use(metricsMiddleware());
 * app.get('/metrics', metricsHandler());
 * ```
 */
export { metricsMiddleware } from '../server/frameworks/hono';
export { metricsHandler, serverStats } from '../server/app';
export type { MetricsHandlerOptions } from '../server/app';
export type { MetricsMiddlewareOptions, RequestInfo } from '../server/frameworks/common';
