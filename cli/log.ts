// The CLI logs through promsd's one logger (log.ts): stderr, at the configured level.
export { createLogger } from '../log';
export type { Logger as CliLogger } from '../log';
