/**
 * promsd for Fastify apps (4 and 5): one plugin recording request metrics and serving `/metrics`.
 *
 * ```js
 * import { metricsPlugin } from 'promsd/fastify';
 * await app.register(metricsPlugin);
 * ```
 */
export { metricsPlugin } from '../server/frameworks/fastify';
export type { FastifyMetricsOptions } from '../server/frameworks/fastify';
export type { MetricsMiddlewareOptions, RequestInfo } from '../server/frameworks/common';
