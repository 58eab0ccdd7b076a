import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, show } from '../errors';

export { ConfigError } from '../errors';
import { redactUrl } from './rules';
import { configKeys } from './schema';
import type { KeyDef, PromsdConfig, PromsdConfigInput, StringKind } from './schema';

export { configKeys } from './schema';
export type { BackendKind, KeyDef, LogLevel, PromsdConfig, PromsdConfigInput, SdKind } from './schema';

/** Where a value came from. */
export type ConfigSource = 'option' | 'env' | 'file' | 'default';

/** The configuration, where each value came from, and the file read (if any). */
export interface ResolvedConfig {
  config: PromsdConfig;
  sources: Record<string, ConfigSource>;
  file: string | undefined;
}

/** Inputs of `resolveConfig`. */
export interface ResolveConfigInput {
  /** Explicit options (highest precedence). */
  options?: PromsdConfigInput;
  /** Environment (default `process.env`). */
  env?: Record<string, string | undefined>;
  /**
   * Config file: an explicit path must exist; otherwise `promsd.config.json` in `cwd` is used if
   * present; `false` reads no file.
   */
  configFile?: string | false;
  /** Directory of the default config file (default `process.cwd()`). */
  cwd?: string;
}

/** The default config file name. */
export const CONFIG_FILE = 'promsd.config.json';

let byKey: Map<string, KeyDef> | undefined;
function keyDef(key: string): KeyDef | undefined {
  return (byKey ??= new Map(configKeys().map((k) => [k.key, k]))).get(key);
}

function fromString(kind: StringKind, s: string): unknown {
  switch (kind) {
    case 'int':
      return /^-?\d+$/.test(s.trim()) ? Number(s.trim()) : s;
    case 'bool': {
      const v = s.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return s;
    }
    case 'list':
      return s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
    default:
      return s;
  }
}

function where(def: KeyDef, source: ConfigSource, file: string | undefined): string {
  if (source === 'env') return `env ${def.env}`;
  if (source === 'file') return `file ${file ?? CONFIG_FILE}`;
  return source;
}

function shown(def: KeyDef, value: unknown): string {
  if (!def.secret || value === '') return show(value);
  return def.key === 'backend.redisUrl' && typeof value === 'string' ? show(redactUrl(value)) : '"***"';
}

/** Flattens `{ server: { port } }` into `server.port → value`, reporting unknown keys. */
function flatten(input: unknown, label: string, problems: string[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (input === undefined) return out;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    problems.push(
      `${label}: expected an object of sections (${[...new Set(configKeys().map((k) => k.key.split('.')[0]))].join(', ')}), got ${show(input)}`,
    );
    return out;
  }
  for (const [section, values] of Object.entries(input)) {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      problems.push(`${section} (from ${label}): expected an object, got ${show(values)}`);
      continue;
    }
    for (const [k, v] of Object.entries(values)) {
      const key = `${section}.${k}`;
      if (keyDef(key) === undefined) {
        problems.push(
          `${key} (from ${label}): unknown key; known keys: ${configKeys()
            .map((d) => d.key)
            .join(', ')}`,
        );
        continue;
      }
      if (v !== undefined) out.set(key, v);
    }
  }
  return out;
}

function readFile(input: ResolveConfigInput, problems: string[]): { path: string | undefined; values: unknown } {
  if (input.configFile === false) return { path: undefined, values: undefined };
  const explicit = input.configFile;
  const path =
    explicit === undefined
      ? resolve(input.cwd ?? process.cwd(), CONFIG_FILE)
      : resolve(input.cwd ?? process.cwd(), explicit);
  if (explicit === undefined && !existsSync(path)) return { path: undefined, values: undefined };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`config file ${path}: cannot read it: ${(err as Error).message}`);
    return { path, values: undefined };
  }
  try {
    return { path, values: JSON.parse(text) as unknown };
  } catch (err) {
    problems.push(`config file ${path}: not valid JSON: ${(err as Error).message}`);
    return { path, values: undefined };
  }
}

function setPath(target: Record<string, Record<string, unknown>>, key: string, value: unknown): void {
  const [section = '', name = ''] = key.split('.');
  (target[section] ??= {})[name] = value;
}

/**
 * Resolves the configuration: explicit options > environment > config file > defaults. Every
 * value is checked against the schema; all problems are collected and thrown together as one
 * `ConfigError`, each line naming the key, its source, the value and what was expected.
 */
export function resolveConfig(input: ResolveConfigInput = {}): ResolvedConfig {
  const problems: string[] = [];
  const env = input.env ?? process.env;
  const file = readFile(input, problems);
  const layers: [ConfigSource, Map<string, unknown>][] = [
    ['option', flatten(input.options, 'options', problems)],
    [
      'env',
      new Map(
        // Set but empty is unset, except where that would silently weaken the setup (a token).
        configKeys()
          .filter((d) => env[d.env] !== undefined && (env[d.env] !== '' || d.emptyIsError === true))
          .map((d) => [d.key, fromString(d.kind, env[d.env] as string)]),
      ),
    ],
    ['file', flatten(file.values, `file ${file.path ?? CONFIG_FILE}`, problems)],
  ];
  const out: Record<string, Record<string, unknown>> = { server: {}, backend: {}, sd: {}, consul: {}, log: {} };
  const sources: Record<string, ConfigSource> = {};
  for (const def of configKeys()) {
    const layer = layers.find(([, values]) => values.has(def.key));
    if (layer === undefined) {
      if (def.default !== undefined) {
        setPath(out, def.key, structuredClone(def.default));
        sources[def.key] = 'default';
      }
      continue;
    }
    const [source, values] = layer;
    let value = values.get(def.key);
    // Files and options may spell lists and numbers as strings, as the environment does.
    if (typeof value === 'string' && def.kind !== 'string') value = fromString(def.kind, value);
    const parsed = def.schema.safeParse(value);
    if (!parsed.success) {
      // A rule that says why (a Redis URL's port, say) is worth more than the generic expectation.
      const why = parsed.error.issues.find((i) => (i as { params?: { why?: boolean } }).params?.why === true)?.message;
      problems.push(
        `${def.key} = ${shown(def, values.get(def.key))} (from ${where(def, source, file.path)}): expected ${def.expected}${why === undefined ? '' : `; this one ${why}`}`,
      );
      continue;
    }
    setPath(out, def.key, parsed.data);
    sources[def.key] = source;
  }
  const config = out as unknown as PromsdConfig;
  // Cross-key rules.
  const from = (key: string): string => {
    const def = keyDef(key) as KeyDef;
    return where(def, sources[key] ?? 'default', file.path);
  };
  if ((config.server.tlsCert === undefined) !== (config.server.tlsKey === undefined)) {
    const [set, missing] =
      config.server.tlsCert === undefined ? ['server.tlsKey', 'server.tlsCert'] : ['server.tlsCert', 'server.tlsKey'];
    problems.push(`${missing} is missing (from any source): ${set} (from ${from(set)}) needs it for HTTPS`);
  }
  if (config.backend.kind === undefined) {
    config.backend.kind = config.backend.redisUrl === undefined ? 'embedded' : 'redis';
    sources['backend.kind'] = 'default';
  } else if (
    (config.backend.kind === 'redis' || config.backend.kind === 'ioredis') &&
    config.backend.redisUrl === undefined
  ) {
    problems.push(
      `backend.redisUrl is missing (set PROMSD_REDIS_URL): backend.kind = "${config.backend.kind}" (from ${from('backend.kind')}) needs it`,
    );
  }
  const sdKinds = config.sd.kinds ?? [];
  if (sdKinds.includes('http') && config.backend.redisUrl === undefined) {
    problems.push(
      `sd.kinds includes "http" (from ${from('sd.kinds')}): HTTP SD lists instances through Redis; set backend.redisUrl (PROMSD_REDIS_URL)`,
    );
  }
  if (new Set(sdKinds).size !== sdKinds.length)
    problems.push(`sd.kinds = ${show(sdKinds)} (from ${from('sd.kinds')}): lists a kind twice`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { config, sources, file: file.path };
}

/** The configuration with secrets (tokens, Redis passwords) masked, for printing. */
export function maskedConfig(config: PromsdConfig): PromsdConfig {
  const copy = structuredClone(config);
  const sections = copy as unknown as Record<string, Record<string, unknown>>;
  for (const def of configKeys()) {
    if (!def.secret) continue;
    const [section = '', name = ''] = def.key.split('.');
    const v = sections[section]?.[name];
    if (typeof v !== 'string') continue;
    (sections[section] as Record<string, unknown>)[name] = def.key === 'backend.redisUrl' ? redactUrl(v) : '***';
  }
  return copy;
}

/** The README's configuration table, generated from the schema. */
export function configTable(): string {
  const rows = configKeys().map((d) => {
    const def = d.defaultText ?? (d.default === undefined ? 'unset' : `\`${JSON.stringify(d.default)}\``);
    return `| \`${d.key}\` | \`${d.env}\` | ${d.expected.replaceAll('|', '\\|')} | ${def} | ${d.doc.replaceAll('|', '\\|')} | ${d.readBy} |`;
  });
  return [
    '| key | environment | accepted values | default | meaning | read by |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/**
 * The `server.*` values set in the environment (`PROMSD_PORT`, `PROMSD_ADDR`, `PROMSD_PATH`,
 * `PROMSD_AUTH_TOKEN`, `PROMSD_TLS_CERT`/`PROMSD_TLS_KEY`, `PROMSD_COMPRESSION`): what
 * `startHttpServer` and `startHttpServerInThread` use for the options they are not given. Checked
 * with the schema; throws a `ConfigError` naming each bad variable.
 */
export function serverEnv(env: Record<string, string | undefined> = process.env): Partial<PromsdConfig['server']> {
  const serverKeys = configKeys().filter((d) => d.key.startsWith('server.'));
  const only = Object.fromEntries(serverKeys.map((d) => [d.env, env[d.env]]));
  const { config, sources } = resolveConfig({ env: only, configFile: false });
  const out: Record<string, unknown> = {};
  for (const d of serverKeys) {
    const name = d.key.slice('server.'.length);
    if (sources[d.key] === 'env') out[name] = (config.server as unknown as Record<string, unknown>)[name];
  }
  return out as Partial<PromsdConfig['server']>;
}
