/**
 * promsd for Express apps (4 and 5): request metrics and the metrics route.
 *
 * ```js
 * const { metricsMiddleware, metricsHandler } = require('promsd/express');
 * app.use(metricsMiddleware());
 * app.get('/metrics', metricsHandler());
 * ```
 */
export { metricsMiddleware, metricsHandler } from '../server/frameworks/express';
export type { MetricsHandlerOptions } from '../server/app';
export type { MetricsMiddlewareOptions, RequestInfo } from '../server/frameworks/common';
