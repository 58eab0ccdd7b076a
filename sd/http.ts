import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { Cluster, Redis } from 'ioredis';
import { show } from '../errors';
import { checkServerInfo, defaultInstanceId } from './address';
import { InvalidSdOptionError } from '../errors';
import { targetGroupOf } from './file';
import type { SdLogger } from './logger';
import { checkLogger } from '../log';
import { LABEL_NAME } from '../metrics/validation';
import { optionChecks, type OptionChecks } from '../options';
import type { Deregister, HttpSdSource, MetricsServerInfo, ServiceDiscovery, TargetGroup } from './types';

/** Options of {@link RedisHttpSD}: give either `url` or `redis`. */
export interface RedisHttpSDOptions {
  /** Redis URL (`redis://host:6379/0`); the plugin owns this connection and closes it. */
  url?: string;
  /** An ioredis client or cluster the application owns (left open on close). */
  redis?: Redis | Cluster;
  /** Namespace of the fleet (default `'promsd'`); keys are `{<prefix>}:sd…`, one Cluster slot. */
  prefix?: string;
  /** An announcement lives this long unless refreshed (every third of it); default 30. */
  ttlSeconds?: number;
  /** Labels attached to this instance's target. */
  labels?: Readonly<Record<string, string>>;
  /** Instance ID in the listing (default `metrics-<hostname>-<port>`). */
  serviceId?: string;
  /** Host announced (default: bound address; a wildcard becomes the first non-internal IPv4). */
  address?: string;
  /** Where refresh failures are reported (default `console`, debug dropped). */
  logger?: SdLogger;
}

// Two keys share the hash tag `{prefix}`, so both live in one Redis Cluster slot and the scripts
// touching both stay valid there. `:sd` is a sorted set of instance IDs scored by expiry time
// (ms, Redis's clock, so hosts' clocks do not matter); `:sd:targets` maps IDs to target JSON.
// Both keys expire with their last member, so a fleet that is gone leaves nothing behind.
// Numbers pass through string.format('%.0f'): Lua 5.1 would print 1.7e+12 otherwise.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%.0f', x) end
`;
const ANNOUNCE = `${NOW}
local expiry = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], int(expiry), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local until_ms = int(math.max(tonumber(last[2]), expiry) + 1000)
redis.call('PEXPIREAT', KEYS[1], until_ms)
redis.call('PEXPIREAT', KEYS[2], until_ms)
return int(expiry)`;
const LIST = `${NOW}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(now))
for i = 1, #dead, 500 do
  local chunk = { unpack(dead, i, math.min(i + 499, #dead)) }
  redis.call('ZREM', KEYS[1], unpack(chunk))
  redis.call('HDEL', KEYS[2], unpack(chunk))
end
local live = redis.call('ZRANGEBYSCORE', KEYS[1], int(now), '+inf')
local out = {}
for i = 1, #live, 500 do
  local values = redis.call('HMGET', KEYS[2], unpack(live, i, math.min(i + 499, #live)))
  for j = 1, #values do
    if values[j] then out[#out + 1] = values[j] end
  end
end
return out`;
const REMOVE = `redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`;

const PREFIX = /^[^{}\s]+$/;
const ID = /^[^\s]{1,200}$/;

/**
 * HTTP-based discovery through Redis, so a fleet needs no Consul: each metrics server announces
 * its target in Redis with a TTL (refreshed every third of it by an unref'd timer, removed on
 * close), and any of them lists all live targets for Prometheus's `http_sd_configs` at `/sd`.
 * It is both the plugin (`serviceDiscovery`) and the source of the listing (`list()`). Needs
 * Redis ≥ 5 (scripts read the server clock); works on Redis Cluster. Deregistering (the
 * server's close) also ends its use as a source: `list()` then rejects.
 *
 * ```ts
 * const sd = new RedisHttpSD({ url: 'redis://redis:6379', prefix: 'checkout' });
 * await startHttpServer({ serviceDiscovery: sd, httpSd: sd });
 * ```
 */
export class RedisHttpSD implements ServiceDiscovery, HttpSdSource {
  readonly #url: string | undefined;
  readonly #given: Redis | Cluster | undefined;
  readonly #keys: [string, string];
  readonly #ttlMs: number;
  readonly #labels: Record<string, string>;
  readonly #serviceId: string | undefined;
  readonly #address: string | undefined;
  readonly #logger: SdLogger;
  #owned: Redis | undefined;
  #registered = false;
  #failing = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #instanceId: string | undefined;
  #deregister: Promise<void> | undefined;

  /** Validates `options` (throws {@link InvalidSdOptionError} naming the bad one); connects lazily. */
  constructor(options: RedisHttpSDOptions) {
    const opt: OptionChecks = optionChecks('RedisHttpSD', InvalidSdOptionError);
    const o = opt.keys(options, ['url', 'redis', 'prefix', 'ttlSeconds', 'labels', 'serviceId', 'address', 'logger']);
    this.#url = opt.string('url', o.url, { pattern: /^rediss?:\/\//, rule: 'must be a redis:// or rediss:// URL' });
    const r = o.redis as { eval?: unknown } | undefined;
    if (r !== undefined && (typeof r !== 'object' || r === null || typeof r.eval !== 'function')) {
      opt.fail('redis', r, 'must be an ioredis Redis or Cluster instance');
    }
    if ((this.#url === undefined) === (r === undefined)) {
      throw new InvalidSdOptionError(
        'RedisHttpSD: give exactly one of url (a redis:// URL) or redis (an ioredis instance)',
      );
    }
    this.#given = o.redis as Redis | Cluster | undefined;
    const prefixRule = 'must not contain "{", "}" or spaces (it becomes the Redis Cluster hash tag)';
    const prefix = opt.string('prefix', o.prefix, { pattern: PREFIX, rule: prefixRule }) ?? 'promsd';
    this.#keys = [`{${prefix}}:sd`, `{${prefix}}:sd:targets`];
    const ttl = o.ttlSeconds ?? 30;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
      opt.fail('ttlSeconds', ttl, 'must be a positive number of seconds');
    }
    this.#ttlMs = Math.round(ttl * 1000);
    this.#labels =
      opt.stringRecord('labels', o.labels, {
        pattern: LABEL_NAME,
        rule: 'is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)',
      }) ?? {};
    this.#serviceId = opt.string('serviceId', o.serviceId, {
      pattern: ID,
      rule: 'must be 1-200 characters without spaces',
    });
    this.#address = opt.string('address', o.address);
    this.#logger = checkLogger('RedisHttpSD', o.logger, InvalidSdOptionError);
  }

  /** True while the last announcement reached Redis. */
  get isRegistered(): boolean {
    return this.#registered;
  }

  /** The Redis keys used: the sorted set of live IDs and the hash of targets. */
  get keys(): readonly [string, string] {
    return this.#keys;
  }

  /**
   * Announces `server` and keeps announcing it every third of the TTL. Resolves even when Redis
   * is unreachable (the next refresh retries); resolves to the function that withdraws it.
   */
  async register(server: MetricsServerInfo): Promise<Deregister> {
    checkServerInfo('RedisHttpSD', server);
    if (this.#instanceId !== undefined) {
      throw new InvalidSdOptionError(
        'RedisHttpSD: register() was already called; use one RedisHttpSD per metrics server',
      );
    }
    if (this.#closed) throw new InvalidSdOptionError('RedisHttpSD: register() after close()');
    const id = this.#serviceId ?? defaultInstanceId('metrics', server.socket.port);
    this.#instanceId = id;
    const json = JSON.stringify(targetGroupOf(server, this.#address, this.#labels));
    const announce = async (): Promise<void> => {
      try {
        await this.#client().eval(ANNOUNCE, 2, ...this.#keys, id, json, String(this.#ttlMs));
        if (this.#failing) this.#logger.info(`RedisHttpSD: announcing ${show(id)} in Redis again`);
        this.#registered = true;
        this.#failing = false;
      } catch (err) {
        this.#registered = false;
        const message = `RedisHttpSD: cannot announce ${show(id)} in Redis: ${(err as Error).message}`;
        if (this.#failing) this.#logger.debug(message);
        else this.#logger.warn(`${message}; retrying every ${this.#ttlMs / 3000}s`);
        this.#failing = true;
      }
    };
    await announce();
    this.#timer = setInterval(() => void announce(), this.#ttlMs / 3);
    this.#timer.unref();
    return () => {
      this.#deregister ??= this.#withdraw(id);
      return this.#deregister;
    };
  }

  async #withdraw(id: string): Promise<void> {
    clearInterval(this.#timer);
    this.#registered = false;
    try {
      if (!this.#closed) await this.#client().eval(REMOVE, 2, ...this.#keys, id);
    } catch (err) {
      // The announcement expires on its own after ttlSeconds.
      this.#logger.warn(
        `RedisHttpSD: cannot withdraw ${show(id)} from Redis (${(err as Error).message}); it expires within ${this.#ttlMs / 1000}s`,
      );
    } finally {
      await this.close();
    }
  }

  /** All live targets, expired announcements pruned; `[]` when there are none. */
  async list(): Promise<TargetGroup[]> {
    if (this.#closed) throw new Error('RedisHttpSD: list() after close()');
    const raw = (await this.#client().eval(LIST, 2, ...this.#keys)) as string[];
    const groups: TargetGroup[] = [];
    for (const text of raw) {
      try {
        const g = JSON.parse(text) as TargetGroup;
        if (Array.isArray(g.targets) && typeof g.labels === 'object' && g.labels !== null) groups.push(g);
      } catch {
        // Written by something else under our keys: not ours to serve.
      }
    }
    return groups.sort((a, b) => (a.targets[0] ?? '').localeCompare(b.targets[0] ?? ''));
  }

  /** Stops refreshing and closes the connection this plugin opened (an injected client stays open). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#closed = true;
    const owned = this.#owned;
    this.#owned = undefined;
    if (owned) await owned.quit().catch(() => owned.disconnect());
  }

  #client(): Redis | Cluster {
    if (this.#given) return this.#given;
    if (!this.#owned) {
      // Fail a command after one reconnection attempt instead of queueing it for minutes: the
      // refresh timer is the retry loop.
      // ioredis is loaded on first use: processes without HTTP SD do not pay for it.
      const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
      this.#owned = new RedisClient(this.#url as string, { maxRetriesPerRequest: 1, connectTimeout: 5000 });
      this.#owned.on('error', (err: Error) => this.#logger.debug(`RedisHttpSD: Redis connection: ${err.message}`));
    }
    return this.#owned;
  }
}

/** What the SD endpoint answers for `source`: the JSON list, or 503 when the source fails. */
async function answer(source: HttpSdSource): Promise<{ status: number; type: string; body: string }> {
  try {
    const groups = await source.list();
    return { status: 200, type: 'application/json', body: JSON.stringify(groups) };
  } catch (err) {
    // A non-200 makes Prometheus keep the targets it already has, which is what we want.
    const body = `service discovery source failed: ${(err as Error)?.message ?? String(err)}\n`;
    return { status: 503, type: 'text/plain; charset=utf-8', body };
  }
}

/**
 * A Hono handler serving `source` for Prometheus's `http_sd_configs`: `application/json`, `[]`
 * when empty, 503 when the source fails (Prometheus then keeps its last good targets).
 *
 * ```ts
 * app.get('/sd', httpSdHandler(sd));
 * ```
 */
export function httpSdHandler(source: HttpSdSource): (c: Context) => Promise<Response> {
  checkSource('httpSdHandler', source);
  return async (c) => {
    const { status, type, body } = await answer(source);
    return c.body(body, status as 200, { 'content-type': type, 'cache-control': 'no-store' });
  };
}

/** The same endpoint as a plain node:http listener `(req, res)`; answers GET and HEAD, 405 otherwise. */
export function httpSdNodeHandler(source: HttpSdSource): (req: IncomingMessage, res: ServerResponse) => void {
  checkSource('httpSdNodeHandler', source);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    void answer(source).then(({ status, type, body }) => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  };
}

function checkSource(fn: string, source: unknown): void {
  if (typeof source !== 'object' || source === null || typeof (source as HttpSdSource).list !== 'function') {
    throw new InvalidSdOptionError(
      `${fn}(source): source must have a list() method returning target groups, got ${show(source)}`,
    );
  }
}
