import { parseArgs } from 'node:util';
import type { PromsdConfigInput } from '../config/schema';

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Flags every command that reads the configuration accepts, and the config key each sets. */
const CONFIG_FLAGS = {
  port: { key: 'server.port', help: 'metrics server port', int: true },
  addr: { key: 'server.addr', help: 'address to bind' },
  path: { key: 'server.path', help: 'metrics path' },
  backend: { key: 'backend.kind', help: 'memory | embedded | redis | ioredis' },
  'redis-url': { key: 'backend.redisUrl', help: 'redis:// or rediss:// URL' },
  prefix: { key: 'backend.prefix', help: 'Redis namespace of the service' },
  'flush-interval-ms': { key: 'backend.flushIntervalMs', help: 'how often changed series are sent', int: true },
  sd: { key: 'sd.kinds', help: 'service discovery: consul,file,http', list: true },
  'sd-file-dir': { key: 'sd.fileDir', help: 'directory of file_sd targets' },
  'service-name': { key: 'sd.serviceName', help: 'name registered in service discovery' },
  'log-level': { key: 'log.level', help: 'debug | info | warn | error | silent' },
} as const satisfies Record<string, { key: string; help: string; int?: boolean; list?: boolean }>;

/** Extra flags of one command. */
export type CommandFlags = Record<string, { type: 'string' | 'boolean'; help: string; short?: string }>;

/** What a command's arguments resolve to. */
export interface ParsedArgs {
  /** Config keys set on the command line (highest precedence). */
  options: PromsdConfigInput;
  /** `--config <file>`. */
  configFile: string | undefined;
  /** `--json`: JSON log lines. */
  json: boolean;
  /** `--help`. */
  help: boolean;
  /** The command's own flags. */
  extra: Record<string, string | boolean | undefined>;
}

/** Parses `argv` (after the command name) strictly: unknown flags and stray arguments are usage errors. */
export function parseCommandArgs(argv: string[], extra: CommandFlags = {}): ParsedArgs {
  const spec: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string', short: 'c' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const name of Object.keys(CONFIG_FLAGS)) spec[name] = { type: 'string' };
  for (const [name, f] of Object.entries(extra))
    spec[name] = f.short === undefined ? { type: f.type } : { type: f.type, short: f.short };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }) as {
      values: Record<string, string | boolean | undefined>;
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const options: Record<string, Record<string, unknown>> = {};
  for (const [flag, def] of Object.entries(CONFIG_FLAGS) as [
    string,
    { key: string; int?: boolean; list?: boolean },
  ][]) {
    const v = values[flag];
    if (typeof v !== 'string') continue;
    const [section = '', name = ''] = def.key.split('.');
    // Strings are converted (and checked) by the config schema, as environment values are.
    (options[section] ??= {})[name] = v;
  }
  const out: Record<string, string | boolean | undefined> = {};
  for (const name of Object.keys(extra)) out[name] = values[name];
  return {
    options: options as PromsdConfigInput,
    configFile: typeof values.config === 'string' ? values.config : undefined,
    json: values.json === true,
    help: values.help === true,
    extra: out,
  };
}

/** The usage text of a command. */
export function usage(command: string, summary: string, extra: CommandFlags = {}, withConfig = true): string {
  const lines = [`Usage: promsd ${command} [options]`, '', summary, '', 'Options:'];
  const row = (flag: string, help: string): string => `  ${flag.padEnd(28)} ${help}`;
  for (const [name, f] of Object.entries(extra)) {
    lines.push(row(`${f.short ? `-${f.short}, ` : ''}--${name}${f.type === 'string' ? ' <value>' : ''}`, f.help));
  }
  if (withConfig) {
    lines.push(row('-c, --config <file>', 'config file (default ./promsd.config.json if present)'));
    for (const [name, f] of Object.entries(CONFIG_FLAGS)) lines.push(row(`--${name} <value>`, `${f.help} (${f.key})`));
  }
  lines.push(row('--json', 'log lines as JSON (stderr)'), row('-h, --help', 'this help'));
  lines.push('', 'Every option can also come from the environment (PROMSD_*) or the config file; see the README.');
  return `${lines.join('\n')}\n`;
}
