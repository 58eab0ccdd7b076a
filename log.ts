// The one logger contract of promsd (backends, service discovery, servers, CLI) and the default
// every library part uses when given none: warnings and errors on stderr, nothing on stdout.
import { ConfigError, InvalidOptionsError, show } from './errors';
import type { PromsdError } from './errors';
import { LOG_LEVELS } from './config/rules';
import type { LogLevel } from './config/rules';

/**
 * Where promsd reports what happens in the background (connects, retries, a failed scrape).
 * pino, winston, bunyan and `console` fit; each method receives one finished message.
 */
export interface Logger {
  /** Routine detail: every retry. */
  debug(message: string): void;
  /** State changes: connected, registered, deregistered. */
  info(message: string): void;
  /** Trouble that heals itself: a backend or agent unreachable. */
  warn(message: string): void;
  /** Trouble that needs a human: a refused registration, a failed scrape. */
  error(message: string): void;
}

const METHODS = ['debug', 'info', 'warn', 'error'] as const;
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * A logger writing to stderr (stdout stays the application's): text lines
 * `2026-11-21T15:00:00.000Z warn  message`, or one JSON object per line
 * (`{"time":"…","level":"warn","msg":"…"}`), at `level` and above.
 */
export function createLogger(
  level: LogLevel,
  format: 'text' | 'json' = 'text',
  write: (line: string) => void = (l) => void process.stderr.write(l),
): Logger {
  const at =
    (lvl: Exclude<LogLevel, 'silent'>) =>
    (message: string): void => {
      if (RANK[lvl] < RANK[level]) return;
      const time = new Date().toISOString();
      write(
        format === 'json'
          ? `${JSON.stringify({ time, level: lvl, msg: message })}\n`
          : `${time} ${lvl.padEnd(5)} ${message}\n`,
      );
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The level of library logs when `PROMSD_LOG_LEVEL` is unset: warnings and errors only. */
export const LIBRARY_LOG_LEVEL: LogLevel = 'warn';

let chosen: Logger | undefined;
let fromEnv: { key: string; logger: Logger } | undefined;

/**
 * The logger of every promsd part given none: the one passed to `setLogger`, else stderr at
 * `PROMSD_LOG_LEVEL` (default `warn`) in `PROMSD_LOG_FORMAT` (default `text`). Read when a part
 * starts, so the variables can be set before. An invalid value throws a `ConfigError` naming it.
 */
export function defaultLogger(env: Record<string, string | undefined> = process.env): Logger {
  if (chosen !== undefined) return chosen;
  const level = env.PROMSD_LOG_LEVEL || LIBRARY_LOG_LEVEL;
  const format = env.PROMSD_LOG_FORMAT || 'text';
  const problems: string[] = [];
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    problems.push(`log.level = ${show(level)} (from env PROMSD_LOG_LEVEL): expected ${LOG_LEVELS.join(' | ')}`);
  }
  if (format !== 'text' && format !== 'json') {
    problems.push(`log.format = ${show(format)} (from env PROMSD_LOG_FORMAT): expected text | json`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const key = `${level} ${format}`;
  if (fromEnv?.key !== key) fromEnv = { key, logger: createLogger(level as LogLevel, format as 'text' | 'json') };
  return fromEnv.logger;
}

/**
 * Sends the logs of every promsd part created afterwards without a `logger` option to `logger`
 * (`undefined`: back to the stderr default). `setLogger(pino())`, `setLogger(console)`.
 */
export function setLogger(logger: Logger | undefined): void {
  chosen = logger === undefined ? undefined : checkLogger('setLogger', logger);
}

/**
 * The `logger` option of a part: `undefined` gives `defaultLogger()`; anything else must have
 * the four methods. The result calls them bound, so loggers whose methods use `this` (pino,
 * winston, console) work, and a logger that throws cannot take the process down.
 */
export function checkLogger(
  what: string,
  logger: unknown,
  ErrorClass: new (message: string) => PromsdError = InvalidOptionsError,
): Logger {
  if (logger === undefined) return defaultLogger();
  const l = logger as Record<string, unknown> | null;
  const missing = METHODS.find((m) => typeof l?.[m] !== 'function');
  if (typeof logger !== 'object' || logger === null || missing !== undefined) {
    throw new ErrorClass(
      `${what}: logger must have debug, info, warn and error methods (missing ${missing ?? 'all'}); pino, winston and console fit, got ${show(logger)}`,
    );
  }
  const bound = (m: (typeof METHODS)[number]) => (message: string) => {
    try {
      (logger as Logger)[m](message);
    } catch {
      // A throwing logger must not take the process down.
    }
  };
  return { debug: bound('debug'), info: bound('info'), warn: bound('warn'), error: bound('error') };
}

/**
 * Logs the same cause at most once per window: the first occurrence at once, the repeats as one
 * line when the cause comes back after the window (`… (4 more in the last 60 s)`). A flood of
 * failed scrapes or refused connections then costs a line a minute, not a line each.
 */
export class LogThrottle {
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #seen = new Map<string, { at: number; repeats: number }>();

  constructor(logger: Logger, windowMs = 60_000) {
    this.#logger = logger;
    this.#windowMs = windowMs;
  }

  /** Logs `message` at `level` unless `cause` was logged within the window. */
  log(level: keyof Logger, cause: string, message: string, now = Date.now()): void {
    const s = this.#seen.get(cause);
    if (s !== undefined && now - s.at < this.#windowMs) {
      s.repeats++;
      return;
    }
    const more =
      s !== undefined && s.repeats > 0 ? ` (${s.repeats} more in the last ${Math.round((now - s.at) / 1000)} s)` : '';
    this.#seen.set(cause, { at: now, repeats: 0 });
    if (this.#seen.size > 1000) this.#seen.delete(this.#seen.keys().next().value as string);
    this.#logger[level](message + more);
  }
}
