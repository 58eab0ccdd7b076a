/** `promsd/sd`: service discovery — Consul, Prometheus file SD, HTTP SD through Redis, or your own. */
export * from '../sd/index';
