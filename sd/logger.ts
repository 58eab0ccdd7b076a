// Service discovery logs through promsd's one logger contract (log.ts).
import type { Logger } from '../log';

/** The logger of service-discovery plugins: promsd's `Logger` (pino, winston, console fit). */
export type SdLogger = Logger;
