/**
 * Where plugins report what happens in the background (registration retries, an agent that
 * forgot the service, a refused token). Any pino/bunyan/winston logger fits, and so does
 * `console`; each method receives one finished message.
 */
export interface SdLogger {
  /** Routine detail: every retry, every heartbeat failure after the first. */
  debug(message: string): void;
  /** State changes worth a line: registered, registered again, deregistered. */
  info(message: string): void;
  /** Trouble that heals itself: agent unreachable, service forgotten. */
  warn(message: string): void;
  /** Trouble that needs a human: Consul refused the registration (bad address, ACL denied). */
  error(message: string): void;
}

/** The default logger: `console` for info and above, debug dropped. */
export const consoleLogger: SdLogger = {
  debug: () => {},
  info: (message) => console.info(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};
