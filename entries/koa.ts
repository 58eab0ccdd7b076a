/**
 * promsd for Koa apps (2 and 3, with @koa/router): request metrics; serve the registry with
 * `metricsRequestListener` or `register.metrics()`.
 *
 * ```js
 * import { metricsMiddleware } from 'promsd/koa';
 * app.use(metricsMiddleware());
 * ```
 */
export { metricsMiddleware } from '../server/frameworks/koa';
export type { MetricsMiddlewareOptions, RequestInfo } from '../server/frameworks/common';
