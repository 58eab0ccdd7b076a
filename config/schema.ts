import type { z as Zod } from 'zod';
import { isMetricsPath, LOG_LEVELS, PREFIX, redisUrlProblem } from './rules';
import type { LogLevel } from './rules';

/**
 * Every configuration key promsd reads, in one table: its schema (zod), the environment variable
 * it is read from, its default and what it means. The README's configuration table is generated
 * from this table (a test fails when they differ).
 */

/** How a string from the environment (or a CLI flag) becomes a typed value before validation. */
export type StringKind = 'string' | 'int' | 'bool' | 'list';

/** One configuration key. */
export interface KeyDef {
  /** Dotted path in the config object, e.g. `server.port`. */
  key: string;
  /** Environment variable it is read from. */
  env: string;
  /** How the environment's string is converted. */
  kind: StringKind;
  /** The accepted values. */
  schema: Zod.ZodType;
  /** What a valid value looks like (for error messages and the README). */
  expected: string;
  /** Default, when no source sets it (`undefined`: unset). */
  default?: unknown;
  /** Shown in the README instead of the default's JSON. */
  defaultText?: string;
  /** Masked when printed (`promsd check`). */
  secret?: boolean;
  /** One line for the README. */
  doc: string;
  /** The entry points that read it (the README's "read by" column). */
  readBy: string;
  /** Set but empty in the environment is an error, not "unset" (a token that would silently mean no auth). */
  emptyIsError?: boolean;
}

/** The entry points, as the README names them. */
const CLI = '`promsd` CLI';
const SERVERS = `${CLI}, \`startHttpServer\`, \`startHttpServerInThread\``;

const logLevels = LOG_LEVELS;
const backends = ['memory', 'embedded', 'redis', 'ioredis'] as const;
const sdKinds = ['consul', 'file', 'http'] as const;

let keys: readonly KeyDef[] | undefined;

/**
 * The configuration keys, in README order. zod is loaded on the first call, so importing promsd to
 * instrument (which loads the server modules in the ESM build) does not load it.
 */
export function configKeys(): readonly KeyDef[] {
  return (keys ??= buildKeys((require('zod') as typeof import('zod')).z));
}

function buildKeys(z: typeof Zod): readonly KeyDef[] {
  const port = z.number().int().min(0).max(65535);
  const nonEmpty = z.string().min(1);
  const prefix = z.string().regex(PREFIX);
  const path = z.string().refine(isMetricsPath);
  const redisUrl = z.string().superRefine((v, ctx) => {
    const problem = redisUrlProblem(v, false);
    // `why`: resolveConfig adds the message to the problem line (the scheme case says nothing new).
    if (problem !== undefined)
      ctx.addIssue({ code: 'custom', message: problem, params: { why: !problem.startsWith('must be') } });
  });
  const consulAddr = z.string().regex(/^(https?:\/\/)?[^\s/]+(:\d+)?\/?$/);
  return [
    {
      key: 'server.port',
      env: 'PROMSD_PORT',
      kind: 'int',
      schema: port,
      expected: 'an integer from 0 to 65535',
      default: 9464,
      defaultText: '`9464`; `startHttpServer*`: `0` (any free port)',
      doc: 'Port of the metrics server (0: any free port).',
      readBy: SERVERS,
    },
    {
      key: 'server.addr',
      env: 'PROMSD_ADDR',
      kind: 'string',
      schema: nonEmpty,
      expected: 'a host name or IP address',
      default: '0.0.0.0',
      doc: 'Address the metrics server binds.',
      readBy: SERVERS,
    },
    {
      key: 'server.path',
      env: 'PROMSD_PATH',
      kind: 'string',
      schema: path,
      expected: 'an absolute URL path other than /, /healthz and /sd',
      default: '/metrics',
      doc: 'Path of the metrics.',
      readBy: SERVERS,
    },
    {
      key: 'server.tlsCert',
      env: 'PROMSD_TLS_CERT',
      kind: 'string',
      schema: nonEmpty,
      expected: 'the path of a PEM certificate chain',
      doc: 'HTTPS certificate file (with `server.tlsKey`).',
      readBy: SERVERS,
    },
    {
      key: 'server.tlsKey',
      env: 'PROMSD_TLS_KEY',
      kind: 'string',
      schema: nonEmpty,
      expected: 'the path of a PEM private key',
      doc: 'HTTPS private key file (with `server.tlsCert`).',
      readBy: SERVERS,
    },
    {
      key: 'server.authToken',
      env: 'PROMSD_AUTH_TOKEN',
      kind: 'string',
      schema: nonEmpty,
      expected: 'a non-empty token',
      secret: true,
      doc: 'Bearer token scrapers must send.',
      readBy: SERVERS,
      emptyIsError: true,
    },
    {
      key: 'server.compression',
      env: 'PROMSD_COMPRESSION',
      kind: 'bool',
      schema: z.boolean(),
      expected: 'true or false',
      default: true,
      doc: 'gzip the exposition when the scraper accepts it.',
      readBy: SERVERS,
    },
    {
      key: 'backend.kind',
      env: 'PROMSD_BACKEND',
      kind: 'string',
      schema: z.enum(backends),
      expected: backends.join(' | '),
      defaultText: '`redis` if `backend.redisUrl` is set, else `embedded`',
      doc: 'Where processes aggregate: `memory` (this process only), `embedded` (processes of one host, no server), `redis` (Rust core), `ioredis` (TypeScript twin).',
      readBy: CLI,
    },
    {
      key: 'backend.redisUrl',
      env: 'PROMSD_REDIS_URL',
      kind: 'string',
      schema: redisUrl,
      expected: 'a redis:// or rediss:// URL',
      secret: true,
      doc: 'Redis URL (user and password in the URL for AUTH).',
      readBy: CLI,
    },
    {
      key: 'backend.prefix',
      env: 'PROMSD_PREFIX',
      kind: 'string',
      schema: prefix,
      expected: '1 to 64 of A-Z a-z 0-9 _ . : -',
      default: 'promsd',
      doc: 'Namespace of this service in Redis (several services can share one Redis).',
      readBy: CLI,
    },
    {
      key: 'backend.flushIntervalMs',
      env: 'PROMSD_FLUSH_INTERVAL_MS',
      kind: 'int',
      schema: z.number().int().min(10).max(600_000),
      expected: 'an integer from 10 to 600000',
      default: 1000,
      doc: 'How often changed series are sent.',
      readBy: CLI,
    },
    {
      key: 'backend.selfMetrics',
      env: 'PROMSD_SELF_METRICS',
      kind: 'bool',
      schema: z.boolean(),
      expected: 'true or false',
      default: false,
      doc: "Add the backend's own metrics (`promsd_backend_up`, `promsd_backend_flush_duration_seconds`, `promsd_backend_flush_errors_total{cause}`, `promsd_backend_series`, `promsd_backend_refused_families`) to the scrape.",
      readBy: CLI,
    },
    {
      key: 'sd.kinds',
      env: 'PROMSD_SD',
      kind: 'list',
      schema: z.array(z.enum(sdKinds)),
      expected: `a comma-separated list of ${sdKinds.join(', ')}`,
      default: [],
      defaultText: 'none',
      doc: 'Service discovery to register with.',
      readBy: CLI,
    },
    {
      key: 'sd.fileDir',
      env: 'PROMSD_SD_FILE_DIR',
      kind: 'string',
      schema: nonEmpty,
      expected: 'a directory path',
      default: './.promsd/targets',
      doc: 'Directory of `file_sd_configs` targets (FileSD).',
      readBy: CLI,
    },
    {
      key: 'sd.serviceName',
      env: 'PROMSD_SERVICE_NAME',
      kind: 'string',
      schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/),
      expected: 'a name of letters, digits, _ . -',
      default: 'app-metrics',
      doc: 'Service name registered in Consul and HTTP SD.',
      readBy: CLI,
    },
    {
      key: 'consul.addr',
      env: 'CONSUL_HTTP_ADDR',
      kind: 'string',
      schema: consulAddr,
      expected: 'host:port, optionally with http:// or https://',
      defaultText: '`127.0.0.1:8500`',
      doc: 'Consul agent address.',
      readBy: `${CLI}, \`ConsulAgent\``,
    },
    {
      key: 'consul.token',
      env: 'CONSUL_HTTP_TOKEN',
      kind: 'string',
      schema: nonEmpty,
      expected: 'a token',
      secret: true,
      doc: 'Consul ACL token.',
      readBy: `${CLI}, \`ConsulAgent\``,
    },
    {
      key: 'consul.tokenFile',
      env: 'CONSUL_HTTP_TOKEN_FILE',
      kind: 'string',
      schema: nonEmpty,
      expected: 'a file path',
      doc: 'File holding the Consul ACL token.',
      readBy: `${CLI}, \`ConsulAgent\``,
    },
    {
      key: 'consul.ssl',
      env: 'CONSUL_HTTP_SSL',
      kind: 'bool',
      schema: z.boolean(),
      expected: 'true or false',
      doc: 'Talk HTTPS to the agent.',
      readBy: `${CLI}, \`ConsulAgent\``,
    },
    {
      key: 'consul.sslVerify',
      env: 'CONSUL_HTTP_SSL_VERIFY',
      kind: 'bool',
      schema: z.boolean(),
      expected: 'true or false',
      doc: "Verify the agent's certificate (default true).",
      readBy: `${CLI}, \`ConsulAgent\``,
    },
    {
      key: 'consul.caCert',
      env: 'CONSUL_CACERT',
      kind: 'string',
      schema: nonEmpty,
      expected: 'a file path',
      doc: 'CA bundle for the agent.',
      readBy: `${CLI}, \`ConsulAgent\``,
    },
    {
      key: 'consul.clientCert',
      env: 'CONSUL_CLIENT_CERT',
      kind: 'string',
      schema: nonEmpty,
      expected: 'a file path',
      doc: 'Client certificate for the agent.',
      readBy: `${CLI}, \`ConsulAgent\``,
    },
    {
      key: 'consul.clientKey',
      env: 'CONSUL_CLIENT_KEY',
      kind: 'string',
      schema: nonEmpty,
      expected: 'a file path',
      doc: 'Client key for the agent.',
      readBy: `${CLI}, \`ConsulAgent\``,
    },
    {
      key: 'log.level',
      env: 'PROMSD_LOG_LEVEL',
      kind: 'string',
      schema: z.enum(logLevels),
      expected: logLevels.join(' | '),
      default: 'info',
      defaultText: '`"info"` (CLI), `"warn"` (library)',
      doc: 'Least severe level logged (stderr; nothing goes to stdout).',
      readBy: `${CLI}, every library logger given none`,
    },
    {
      key: 'log.format',
      env: 'PROMSD_LOG_FORMAT',
      kind: 'string',
      schema: z.enum(['text', 'json']),
      expected: 'text | json',
      default: 'text',
      doc: 'Log lines as text or JSON (stderr).',
      readBy: `${CLI}, every library logger given none`,
    },
  ];
}

/** Backend kinds. */
export type BackendKind = (typeof backends)[number];
/** Service-discovery kinds. */
export type SdKind = (typeof sdKinds)[number];
/** Log levels. */
export type { LogLevel };

/** The resolved configuration. */
export interface PromsdConfig {
  server: {
    port: number;
    addr: string;
    path: string;
    tlsCert?: string;
    tlsKey?: string;
    authToken?: string;
    compression: boolean;
  };
  backend: { kind: BackendKind; redisUrl?: string; prefix: string; flushIntervalMs: number; selfMetrics: boolean };
  sd: { kinds: SdKind[]; fileDir: string; serviceName: string };
  consul: {
    addr?: string;
    token?: string;
    tokenFile?: string;
    ssl?: boolean;
    sslVerify?: boolean;
    caCert?: string;
    clientCert?: string;
    clientKey?: string;
  };
  log: { level: LogLevel; format: 'text' | 'json' };
}

/** What callers pass: any subset, nested like `PromsdConfig`. */
export type PromsdConfigInput = { [S in keyof PromsdConfig]?: Partial<PromsdConfig[S]> };
