import { ConfigError, resolveConfig } from '../config/index';
import type { ResolvedConfig } from '../config/index';
import type { CommandFlags, ParsedArgs } from './args';
import { parseCommandArgs, usage, UsageError } from './args';
import { createLogger } from './log';
import type { CliLogger } from './log';

/** Exit codes: 0 done, 1 failed while running, 2 bad usage or configuration, 69 a required service is unavailable (sysexits EX_UNAVAILABLE). */
export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 69 } as const;

/** What a command needs to run. */
export interface CommandContext {
  args: ParsedArgs;
  resolved: ResolvedConfig;
  logger: CliLogger;
  /** Writes the command's own output (stdout). */
  out: (text: string) => void;
}

/** How a command is described and run. */
export interface Command {
  name: string;
  summary: string;
  flags: CommandFlags;
  run(ctx: CommandContext): Promise<number>;
}

/**
 * Parses arguments and resolves the configuration for `command`; prints usage or every config
 * problem and returns the exit code when that fails, so nothing starts on a bad configuration.
 */
export async function runCommand(
  command: Command,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const out = (text: string): void => void process.stdout.write(text);
  let args: ParsedArgs;
  try {
    args = parseCommandArgs(argv, command.flags);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(
      `promsd ${command.name}: ${err.message}\n\n${usage(command.name, command.summary, command.flags)}`,
    );
    return EXIT.usage;
  }
  if (args.help) {
    out(usage(command.name, command.summary, command.flags));
    return EXIT.ok;
  }
  let resolved: ResolvedConfig;
  try {
    const options = args.json
      ? { ...args.options, log: { ...args.options.log, format: 'json' as const } }
      : args.options;
    resolved = resolveConfig({
      options,
      env,
      ...(args.configFile === undefined ? {} : { configFile: args.configFile }),
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const logger = createLogger('error', args.json ? 'json' : 'text');
    logger.error(`promsd ${command.name}: ${err.message}`);
    return EXIT.usage;
  }
  const logger = createLogger(resolved.config.log.level, resolved.config.log.format);
  try {
    return await command.run({ args, resolved, logger, out });
  } catch (err) {
    logger.error(`promsd ${command.name}: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  }
}

/** Resolves on the first SIGINT or SIGTERM (and stops listening for them). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
