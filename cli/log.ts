import type { LogLevel } from '../config/schema';

/** A pino-compatible logger: what the backends and service-discovery plugins accept. */
export interface CliLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Logs to stderr (stdout stays for the command's own output): text lines
 * `2026-11-21T15:00:00.000Z warn  message`, or one JSON object per line
 * (`{"time":"…","level":"warn","msg":"…"}`), at `level` and above.
 */
export function createLogger(
  level: LogLevel,
  format: 'text' | 'json',
  write: (line: string) => void = (l) => process.stderr.write(l),
): CliLogger {
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
