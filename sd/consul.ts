import type Consul from 'consul';
import { show } from '../errors';
import { advertisedAddress, checkServerInfo, defaultInstanceId, hostPort } from './address';
import { resolveConnection, type ConsulConnection, type ConsulTlsOptions } from './consul-config';
import { goDuration, humanDuration, parseDuration, type Duration } from './duration';
import { ConsulApiError, InvalidSdOptionError } from '../errors';
import type { SdLogger } from './logger';
import { checkLogger } from '../log';
import { optionChecks, type OptionChecks } from '../options';
import type { Deregister, MetricsServerInfo, ServiceDiscovery } from './types';
import { closeOnSignals } from '../signals';

export type { ConsulTlsOptions } from './consul-config';

/** Consul checks the server's health endpoint over HTTP every `interval` (the default check). */
export interface ConsulHttpCheck {
  type: 'http';
  /** Path to GET (default: the server's `healthPath`, `/healthz`). */
  path?: string;
  /** How often the agent checks (default `'10s'`). */
  interval?: Duration;
  /** How long the agent waits for an answer (default `'5s'`). */
  timeout?: Duration;
}

/** The process tells Consul it is alive every 2/3 of `ttl`; silence for `ttl` makes it critical. */
export interface ConsulTtlCheck {
  type: 'ttl';
  /** Time to live of each heartbeat (default `'15s'`, so a heartbeat every 10 s). */
  ttl?: Duration;
}

/** Options of {@link ConsulAgent}. Connection options fall back to Consul's environment variables. */
export interface ConsulAgentOptions {
  /** Service name in Consul (default `'app-metrics'`). */
  name?: string;
  /** Service ID, unique per agent (default `<name>-<hostname>-<port>`, so replicas never collide). */
  serviceId?: string;
  /** Service tags (default `['metrics']`). */
  tags?: readonly string[];
  /** Service meta; `metrics_path` and `metrics_scheme` are added from the server unless given. */
  meta?: Readonly<Record<string, string>>;
  /** ACL token. Default: `CONSUL_HTTP_TOKEN_FILE`'s content, else `CONSUL_HTTP_TOKEN`. */
  token?: string;
  /**
   * Address registered for the service. Default: the server's bound address, or when that is a
   * wildcard (`0.0.0.0`, `::`, which Consul rejects) the host's first non-internal IPv4.
   * Used exactly as given.
   */
  address?: string;
  /** Health check: `'http'` (default), `'ttl'`, or an object with settings. */
  check?: 'http' | 'ttl' | ConsulHttpCheck | ConsulTtlCheck;
  /** Consul removes the service after its check has been critical this long (default `'1m'`). */
  deregisterCriticalServiceAfter?: Duration;
  /** Deregister when the server closes (default true). */
  deregister?: boolean;
  /** The agent: `host:port` or `http(s)://host:port`. Default: `CONSUL_HTTP_ADDR`, else `127.0.0.1:8500`. */
  agentAddress?: string;
  /** TLS towards the agent. Defaults from `CONSUL_CACERT`, `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`, `CONSUL_HTTP_SSL_VERIFY`. */
  tls?: ConsulTlsOptions;
  /** Timeout of each call to the agent (default `'5s'`). */
  requestTimeout?: Duration;
  /** How often to ask the agent whether it still knows the service (default `'30s'`). */
  syncInterval?: Duration;
  /** Backoff between registration attempts while the agent is unreachable (default `'1s'` doubling up to `'1m'`, with jitter). */
  retry?: { initialDelay?: Duration; maxDelay?: Duration };
  /**
   * On SIGTERM/SIGINT, close the server that registered this plugin — every plugin deregistered,
   * the listener closed — then let the signal end the process (default false). Registered on its
   * own (`agent.register(info)` outside a server), it deregisters itself.
   */
  handleSignals?: boolean;
  /** Where background events are reported (default: `console`, debug dropped). */
  logger?: SdLogger;
  /** Environment to read Consul's variables from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

const KNOWN = [
  'name',
  'serviceId',
  'tags',
  'meta',
  'token',
  'address',
  'check',
  'deregisterCriticalServiceAfter',
  'deregister',
  'agentAddress',
  'tls',
  'requestTimeout',
  'syncInterval',
  'retry',
  'handleSignals',
  'logger',
  'env',
];
// Consul's rules for service meta keys (structs.ValidateServiceMetadata).
const META_KEY = /^[a-zA-Z0-9_-]{1,128}$/;
const NOT_A_PATH = { pattern: /^[^/]+$/, rule: 'must not contain "/"' };

interface Settings {
  name: string;
  serviceId: string | undefined;
  tags: string[];
  meta: Record<string, string>;
  address: string | undefined;
  check:
    | { type: 'http'; path: string | undefined; interval: Duration; timeout: Duration }
    | { type: 'ttl'; ttl: Duration; ttlMs: number };
  deregisterCriticalServiceAfter: Duration;
  deregister: boolean;
  requestTimeoutMs: number;
  syncIntervalMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  handleSignals: boolean;
  logger: SdLogger;
  connection: ConsulConnection;
}

const opt: OptionChecks = optionChecks('ConsulAgent', InvalidSdOptionError);

function settings(options: unknown): Settings {
  const o = opt.keys(options, KNOWN);
  const name = opt.string('name', o.name, NOT_A_PATH) ?? 'app-metrics';
  const serviceId = opt.string('serviceId', o.serviceId, NOT_A_PATH);
  const tags = opt.stringArray('tags', o.tags) ?? ['metrics'];
  const meta =
    opt.stringRecord('meta', o.meta, {
      pattern: META_KEY,
      rule: 'must be 1-128 letters, digits, "_" or "-" (Consul\'s rule for meta keys)',
      reserved: (k) =>
        k.startsWith('consul-') ? 'is reserved: Consul refuses meta keys starting with "consul-"' : undefined,
    }) ?? {};
  for (const [k, v] of Object.entries(meta)) {
    if (v.length > 512)
      throw new InvalidSdOptionError(
        `ConsulAgent: meta: value of ${show(k)} is ${v.length} characters; Consul allows 512`,
      );
  }
  if (Object.keys(meta).length > 62) {
    throw new InvalidSdOptionError(
      `ConsulAgent: meta has ${Object.keys(meta).length} keys; Consul allows 64 including metrics_path and metrics_scheme`,
    );
  }
  const token = opt.string('token', o.token);
  const address = opt.string('address', o.address);
  const agentAddress = opt.string('agentAddress', o.agentAddress);

  let check: Settings['check'];
  const c = typeof o.check === 'string' ? { type: o.check } : (o.check ?? { type: 'http' });
  if (
    typeof c !== 'object' ||
    c === null ||
    ((c as { type?: unknown }).type !== 'http' && (c as { type?: unknown }).type !== 'ttl')
  ) {
    opt.fail(
      'check',
      o.check,
      "must be 'http', 'ttl', { type: 'http', path, interval, timeout } or { type: 'ttl', ttl }",
    );
  }
  if ((c as { type: string }).type === 'http') {
    const h = opt.keys(c, ['type', 'path', 'interval', 'timeout'], 'check');
    const path = opt.string('check.path', h.path, { pattern: /^\//, rule: 'must start with "/"' });
    const interval = (h.interval ?? '10s') as Duration;
    const timeout = (h.timeout ?? '5s') as Duration;
    parseDuration(interval, 'ConsulAgent: check.interval');
    parseDuration(timeout, 'ConsulAgent: check.timeout');
    check = { type: 'http', path, interval, timeout };
  } else {
    const t = opt.keys(c, ['type', 'ttl'], 'check');
    const ttl = (t.ttl ?? '15s') as Duration;
    check = { type: 'ttl', ttl, ttlMs: parseDuration(ttl, 'ConsulAgent: check.ttl') };
  }
  const deregisterCriticalServiceAfter = (o.deregisterCriticalServiceAfter ?? '1m') as Duration;
  parseDuration(deregisterCriticalServiceAfter, 'ConsulAgent: deregisterCriticalServiceAfter');

  const retry = opt.keys(o.retry, ['initialDelay', 'maxDelay'], 'retry');
  const initialDelayMs = parseDuration(retry.initialDelay ?? '1s', 'ConsulAgent: retry.initialDelay');
  const maxDelayMs = parseDuration(retry.maxDelay ?? '1m', 'ConsulAgent: retry.maxDelay');
  if (maxDelayMs < initialDelayMs) {
    throw new InvalidSdOptionError(
      `ConsulAgent: retry.maxDelay (${show(retry.maxDelay)}) must not be shorter than retry.initialDelay (${show(retry.initialDelay ?? '1s')})`,
    );
  }
  if (o.env !== undefined && (typeof o.env !== 'object' || o.env === null)) {
    opt.fail('env', o.env, 'must be an object of environment variables');
  }
  return {
    name,
    serviceId,
    tags,
    meta,
    address,
    check,
    deregisterCriticalServiceAfter,
    deregister: opt.boolean('deregister', o.deregister, true),
    requestTimeoutMs: parseDuration(o.requestTimeout ?? '5s', 'ConsulAgent: requestTimeout'),
    syncIntervalMs: parseDuration(o.syncInterval ?? '30s', 'ConsulAgent: syncInterval'),
    initialDelayMs,
    maxDelayMs,
    handleSignals: opt.boolean('handleSignals', o.handleSignals, false),
    logger: checkLogger('ConsulAgent', o.logger, InvalidSdOptionError),
    connection: resolveConnection(
      { agentAddress, token, tls: o.tls },
      (o.env as NodeJS.ProcessEnv | undefined) ?? process.env,
    ),
  };
}

/** What went wrong in a call to the agent: its HTTP status and text, or a network failure. */
function describe(err: unknown): { status: number | undefined; message: string } {
  const e = err as {
    isResponse?: boolean;
    response?: { statusCode?: number; body?: unknown };
    message?: string;
    code?: string;
  };
  if (e?.isResponse && e.response?.statusCode !== undefined) {
    const body = e.response.body;
    let text: string;
    if (typeof body === 'string') text = body;
    else if (Buffer.isBuffer(body)) text = body.toString('utf8');
    else text = body === undefined ? '' : JSON.stringify(body);
    return {
      status: e.response.statusCode,
      message: text.trim() || (e.message ?? '').replace(/^consul: [\w.]+: /, ''),
    };
  }
  return { status: undefined, message: e?.code ?? e?.message ?? String(err) };
}

/**
 * Registers the metrics server as a service with the local Consul agent, keeps it registered,
 * and deregisters it when the server closes.
 *
 * - The server starts even when the agent is unreachable: `register()` makes one attempt, then
 *   retries in the background with capped exponential backoff; {@link isRegistered} tells which.
 * - When the agent forgets the service (restart with wiped state: a TTL heartbeat answers 404, or
 *   the periodic look at `/v1/agent/services` misses it), the service is registered again.
 * - A refusal (400 bad address, 403 ACL) is reported once through the logger with Consul's own
 *   message, then retried only every `retry.maxDelay`, never in a hot loop.
 * - Every timer is unref'd; deregistering stops them all and releases the HTTP connections.
 *
 * ```ts
 * await startHttpServer({ port: 9464, serviceDiscovery: new ConsulAgent({ name: 'checkout-metrics' }) });
 * ```
 */
export class ConsulAgent implements ServiceDiscovery {
  readonly #s: Settings;
  #consul: Consul | undefined;
  #body: Record<string, unknown> | undefined;
  #serviceId: string | undefined;
  #registered = false;
  #everRegistered = false;
  #closed = false;
  #attempt = 0;
  #refusal: string | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #syncTimer: NodeJS.Timeout | undefined;
  // One call to the agent at a time: registration, heartbeat, sync and deregistration never race.
  #queue: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #onSignal: (() => void) | undefined;

  /** Validates `options` (throws {@link InvalidSdOptionError} naming the bad one) and reads the environment. */
  constructor(options: ConsulAgentOptions = {}) {
    this.#s = settings(options);
  }

  /** The `handleSignals` option: the server registering this plugin closes itself on SIGTERM/SIGINT. */
  get handleSignals(): boolean {
    return this.#s.handleSignals;
  }

  /** True while the agent is known to hold the registration. */
  get isRegistered(): boolean {
    return this.#registered;
  }

  /** The service ID in use (known once `register()` has been called). */
  get serviceId(): string | undefined {
    return this.#serviceId;
  }

  /** The agent this plugin talks to, e.g. `http://127.0.0.1:8500`. */
  get agentAddress(): string {
    return this.#s.connection.display;
  }

  /**
   * Registers `server` (one attempt, then background retries) and resolves to the function that
   * deregisters. Never rejects because the agent is unreachable or refuses; rejects on bad input.
   */
  async register(server: MetricsServerInfo): Promise<Deregister> {
    checkServerInfo('ConsulAgent', server);
    if (this.#body !== undefined) {
      throw new InvalidSdOptionError(
        'ConsulAgent: register() was already called; use one ConsulAgent per metrics server',
      );
    }
    const s = this.#s;
    const id = s.serviceId ?? defaultInstanceId(s.name, server.socket.port);
    const address = advertisedAddress(server, s.address);
    const check: Record<string, unknown> =
      s.check.type === 'http'
        ? {
            name: `Metrics endpoint of ${id}`,
            http: `${server.https ? 'https' : 'http'}://${hostPort(address, server.socket.port)}${s.check.path ?? server.healthPath}`,
            interval: goDuration(s.check.interval),
            timeout: goDuration(s.check.timeout),
          }
        : { name: `Heartbeat of ${id}`, ttl: goDuration(s.check.ttl) };
    check.deregistercriticalserviceafter = goDuration(s.deregisterCriticalServiceAfter);
    this.#serviceId = id;
    this.#body = {
      name: s.name,
      id,
      tags: s.tags,
      meta: { metrics_path: server.path, metrics_scheme: server.https ? 'https' : 'http', ...s.meta },
      address,
      port: server.socket.port,
      check,
    };
    const { baseUrl, token, tls } = s.connection;
    // Loaded on first use: processes that never register with Consul do not pay for the client.
    const ConsulClient = require('consul') as typeof Consul;
    this.#consul = new ConsulClient({
      baseUrl,
      timeout: s.requestTimeoutMs,
      ...(token === undefined ? {} : { defaults: { token } }),
      ...tls,
    } as ConstructorParameters<typeof Consul>[0]);
    // The server that registered this plugin owns the signals when it says so (it closes all of
    // its registrations and its listener); on its own, the agent deregisters itself.
    if (s.handleSignals && server.signalsHandled !== true) this.#installSignalHandlers();
    await this.#enqueue(() => this.#tryRegister());
    return () => this.#close();
  }

  #enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(() => (this.#closed ? undefined : op()));
    this.#queue = run.catch((err: unknown) =>
      this.#s.logger.error(`ConsulAgent: unexpected error: ${(err as Error)?.stack ?? String(err)}`),
    );
    return this.#queue;
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#enqueue(() => this.#tryRegister()), delayMs);
    this.#retryTimer.unref();
  }

  async #tryRegister(): Promise<void> {
    const s = this.#s;
    const id = this.#serviceId as string;
    try {
      await this.#agent().service.register(this.#body as never);
    } catch (err) {
      this.#registered = false;
      const { status, message } = describe(err);
      if (status !== undefined && status >= 400 && status < 500) {
        // A refusal will not heal by hammering the agent: say it once, then try again slowly in
        // case an operator fixes the token or the policy.
        if (message !== this.#refusal) {
          s.logger.error(
            `ConsulAgent: Consul at ${s.connection.display} refused to register service ${show(id)} (HTTP ${status}): ${message}; ` +
              `retrying every ${humanDuration(s.maxDelayMs)}`,
          );
          this.#refusal = message;
        } else {
          s.logger.debug(`ConsulAgent: registration of ${show(id)} still refused (HTTP ${status}): ${message}`);
        }
        this.#schedule(s.maxDelayMs * (0.75 + Math.random() * 0.25));
        return;
      }
      this.#attempt++;
      // Capped exponential backoff with jitter, so a fleet does not stampede a restarted agent.
      const delay = Math.min(s.maxDelayMs, s.initialDelayMs * 2 ** (this.#attempt - 1)) * (0.5 + Math.random() * 0.5);
      const what =
        status === undefined
          ? `cannot reach the Consul agent at ${s.connection.display} (${message})`
          : `Consul at ${s.connection.display} answered ${status}: ${message}`;
      if (this.#attempt === 1) {
        s.logger.warn(
          `ConsulAgent: ${what}; service ${show(id)} will be registered when it answers (retrying with backoff)`,
        );
      } else s.logger.debug(`ConsulAgent: ${what}; attempt ${this.#attempt}, next in ${humanDuration(delay)}`);
      this.#schedule(delay);
      return;
    }
    s.logger.info(
      `ConsulAgent: registered service ${show(id)} with Consul at ${s.connection.display}${this.#everRegistered ? ' again' : ''}`,
    );
    this.#registered = true;
    this.#everRegistered = true;
    this.#attempt = 0;
    this.#refusal = undefined;
    this.#startTimers();
    // A TTL check starts critical: the first heartbeat makes the service healthy right away.
    if (s.check.type === 'ttl') await this.#heartbeat();
  }

  #startTimers(): void {
    this.#stopTimers();
    const s = this.#s;
    if (s.check.type === 'ttl') {
      this.#heartbeatTimer = setInterval(() => void this.#enqueue(() => this.#heartbeat()), (s.check.ttlMs * 2) / 3);
      this.#heartbeatTimer.unref();
    }
    this.#syncTimer = setInterval(() => void this.#enqueue(() => this.#sync()), s.syncIntervalMs);
    this.#syncTimer.unref();
  }

  #stopTimers(): void {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#syncTimer);
    this.#retryTimer = this.#heartbeatTimer = this.#syncTimer = undefined;
  }

  async #heartbeat(): Promise<void> {
    if (!this.#registered) return;
    try {
      await this.#agent().check.pass(`service:${this.#serviceId}`);
    } catch (err) {
      const { status, message } = describe(err);
      this.#lost(
        status === 404
          ? 'the agent no longer knows its TTL check (agent restarted?)'
          : `heartbeat failed: ${status === undefined ? message : `HTTP ${status}: ${message}`}`,
      );
    }
  }

  async #sync(): Promise<void> {
    if (!this.#registered) return;
    try {
      const services = (await this.#agent().service.list()) as Record<string, unknown>;
      if (!Object.hasOwn(services ?? {}, this.#serviceId as string))
        this.#lost('the agent no longer lists it (agent restarted?)');
    } catch (err) {
      const { status, message } = describe(err);
      this.#lost(`checking the agent failed: ${status === undefined ? message : `HTTP ${status}: ${message}`}`);
    }
  }

  /** The registration is in doubt: register again now (idempotent for Consul), then back off. */
  #lost(reason: string): void {
    this.#s.logger.warn(
      `ConsulAgent: service ${show(this.#serviceId)} is not registered any more: ${reason}; registering again`,
    );
    this.#registered = false;
    this.#stopTimers();
    this.#schedule(0);
  }

  #agent(): Consul['agent'] {
    return (this.#consul as Consul).agent;
  }

  #close(): Promise<void> {
    this.#closing ??= this.#deregister();
    return this.#closing;
  }

  async #deregister(): Promise<void> {
    this.#closed = true;
    this.#stopTimers();
    this.#removeSignalHandlers();
    await this.#queue;
    const s = this.#s;
    const id = this.#serviceId as string;
    let failure: ConsulApiError | undefined;
    if (s.deregister && this.#everRegistered) {
      try {
        await this.#agent().service.deregister(id);
        s.logger.info(`ConsulAgent: deregistered service ${show(id)} from Consul at ${s.connection.display}`);
      } catch (err) {
        const { status, message } = describe(err);
        if (status === 404) {
          s.logger.debug(`ConsulAgent: service ${show(id)} was already gone from the agent`);
        } else if (status === undefined) {
          // Nothing more can be done from here; deregisterCriticalServiceAfter cleans up.
          s.logger.warn(
            `ConsulAgent: cannot reach the Consul agent at ${s.connection.display} to deregister ${show(id)} (${message}); ` +
              `Consul will drop it after ${goDuration(s.deregisterCriticalServiceAfter)} critical`,
          );
        } else {
          failure = new ConsulApiError(`PUT /v1/agent/service/deregister/${id}`, status, message);
          s.logger.error(`ConsulAgent: ${failure.message}`);
        }
      }
    }
    this.#registered = false;
    this.#consul?.destroy();
    if (failure !== undefined) throw failure;
  }

  #installSignalHandlers(): void {
    this.#removeSignalHandlers();
    // Failures are already reported through the logger.
    this.#onSignal = closeOnSignals(() => this.#close());
  }

  #removeSignalHandlers(): void {
    this.#onSignal?.();
    this.#onSignal = undefined;
  }
}
