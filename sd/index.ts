/**
 * Service discovery: plugins that register the metrics server once its socket is bound and
 * deregister it on close. Consul (`ConsulAgent`), Prometheus file SD (`FileSD`), HTTP SD
 * through Redis (`RedisHttpSD` + `httpSdHandler`), or your own (`ServiceDiscovery`).
 */
export type { Deregister, HttpSdSource, MetricsServerInfo, ServiceDiscovery, TargetGroup } from './types';
export { ConsulAgent } from './consul';
export type { ConsulAgentOptions, ConsulHttpCheck, ConsulTlsOptions, ConsulTtlCheck } from './consul';
export { FileSD } from './file';
export type { FileSDOptions } from './file';
export { RedisHttpSD, httpSdHandler, httpSdNodeHandler } from './http';
export type { RedisHttpSDOptions } from './http';
export { combineServiceDiscovery } from './combine';
export { ConsulApiError, InvalidSdOptionError } from '../errors';
export type { Duration } from './duration';
export type { SdLogger } from './logger';
