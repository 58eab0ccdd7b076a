// Kept for the main entry's `metricsMiddleware` (Hono): the implementation is in frameworks/.
export { metricsMiddleware } from './frameworks/hono';
export type { MetricsMiddlewareOptions, RequestInfo } from './frameworks/common';
