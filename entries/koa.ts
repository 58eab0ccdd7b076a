/**
 * promsd for Koa apps (2 and 3, with @koa/router): request metrics and the metrics route.
 *
 * ```js
 * import { metricsMiddleware, metricsHandler } from 'promsd/koa';
 * app.use(metricsMiddleware());
 * router.get('/metrics', metricsHandler());
 * ```
 */
export { metricsMiddleware, metricsHandler } from '../server/frameworks/koa';
export type { MetricsHandlerOptions } from '../server/app';
export type { MetricsMiddlewareOptions, RequestInfo } from '../server/frameworks/common';
