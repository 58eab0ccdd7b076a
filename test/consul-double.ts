/**
 * A test double of the Consul agent's HTTP API, faithful to the Consul 1.20 documentation
 * (developer.hashicorp.com/consul/api-docs, v1.20.x: agent/service, agent/check, agent, catalog,
 * health, features/blocking) for the parts a service registers through. No Consul binary can be
 * installed on this machine kind, so the Consul tests run against this.
 *
 * Behaviour reproduced:
 * - `PUT /v1/agent/service/register`: JSON body with `ID`, `Name`, `Tags`, `Address`, `Port`,
 *   `Meta`, `Check` or `Checks` (`HTTP`+`Interval`, `TTL`, `Timeout`, `DeregisterCriticalServiceAfter`,
 *   `Status`, `CheckID`, `Name`). 400 with Consul's text for: undecodable body or duration
 *   (`Request decode failed: ...`), no name (`Missing service name`), a wildcard address
 *   (`Invalid service address`), bad meta (`Invalid Service Meta: ...`), bad checks
 *   (`Invalid check: ...`). Re-registering an ID replaces it. Check IDs are `service:<id>`
 *   (`service:<id>:<n>` for several), names `Service '<name>' check`, initial status critical.
 * - `PUT /v1/agent/service/deregister/:id`: 404 `Unknown service ID "x". Ensure that the service ID is passed, not the service name.`
 * - `PUT /v1/agent/check/pass|warn|fail/:id` (`?note=`) and `PUT /v1/agent/check/update/:id`
 *   (`{Status, Output}`): 404 `CheckID "x" does not have associated TTL` for unknown or non-TTL checks.
 * - `GET /v1/agent/services`, `GET /v1/agent/service/:id`, `GET /v1/agent/checks`, `GET /v1/agent/self`,
 *   `GET /v1/catalog/services`, `GET /v1/health/service/:name` (`?passing`), `GET /v1/status/leader`.
 *   Catalog and health answer `X-Consul-Index` and support blocking queries (`?index=&wait=`,
 *   wait default 5m, max 10m).
 * - ACLs (option `acl`): writes need a known token with write rights, passed as `X-Consul-Token`,
 *   `Authorization: Bearer` or `?token=`; an unknown token gets 403 `ACL not found`, no token or
 *   a read-only one 403 `Permission denied: ...`.
 * - Runs HTTP checks like the agent (first run at registration, then every `Interval`; 2xx
 *   passing, 429 warning, anything else critical), expires TTL checks (`TTL expired`), and reaps
 *   services whose check has been critical longer than `DeregisterCriticalServiceAfter`.
 *
 * Deliberate deviations, for fast tests: the reaper runs every `reapIntervalMs` (Consul: 30 s)
 * and honours any `DeregisterCriticalServiceAfter` (Consul enforces a 1 minute minimum), unless
 * the options say otherwise. Only 127.0.0.1 is bound. `stop()` then `start()` is an agent
 * restart with its state wiped (a dev agent, or one whose data dir was lost).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of {@link ConsulDouble}. */
export interface ConsulDoubleOptions {
  /** Port to bind on 127.0.0.1 (default 0: any free port, kept across restarts). */
  port?: number;
  /** When set, ACLs are on: `write` tokens may register, `read` tokens may only read. */
  acl?: { write?: string[]; read?: string[] };
  /** How often the reaper runs (default 100 ms; Consul: 30 s). */
  reapIntervalMs?: number;
  /** Smallest DeregisterCriticalServiceAfter honoured (default 0; Consul: 1 minute). */
  minimumReapAfterMs?: number;
  /** Node name reported in the catalog (default `double-node`). */
  nodeName?: string;
}

/** One request the double received. */
export interface RecordedRequest {
  method: string;
  /** Path, percent-decoded (`/v1/agent/check/pass/service:x`). */
  path: string;
  query: URLSearchParams;
  token: string | undefined;
  body: unknown;
  status: number;
}

interface Service {
  ID: string;
  Service: string;
  Tags: string[];
  Meta: Record<string, string>;
  Port: number;
  Address: string;
  TaggedAddresses: Record<string, unknown>;
  Weights: { Passing: number; Warning: number };
  EnableTagOverride: boolean;
  Datacenter: string;
  CreateIndex: number;
  ModifyIndex: number;
}

interface Check {
  Node: string;
  CheckID: string;
  Name: string;
  Status: 'passing' | 'warning' | 'critical';
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  Type: 'http' | 'ttl';
  Interval: string;
  Timeout: string;
  Definition: Record<string, unknown>;
  CreateIndex: number;
  ModifyIndex: number;
  // Internal state, not serialised.
  http?: {
    url: string;
    method: string;
    intervalMs: number;
    timeoutMs: number;
    timer?: NodeJS.Timeout;
    running?: AbortController;
  };
  ttlMs?: number;
  ttlTimer?: NodeJS.Timeout;
  deregisterAfterMs?: number;
  criticalSince?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration, as Consul decodes duration fields; returns milliseconds. */
export function parseGoDuration(value: string): number {
  if (value === '0') return 0;
  if (!/^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.test(value)) {
    throw new HttpError(400, `Request decode failed: time: invalid duration "${value}"`);
  }
  let ms = 0;
  for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g))
    ms += Number(n) * UNIT_MS[unit];
  return value.startsWith('-') ? -ms : ms;
}

function duration(value: unknown): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value === 'number') return value / 1e6; // Go encodes time.Duration numbers as nanoseconds.
  if (typeof value !== 'string')
    throw new HttpError(400, `Request decode failed: invalid duration ${JSON.stringify(value)}`);
  return parseGoDuration(value);
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']);
const VERSION = '1.20.0';

/** A fake Consul agent on 127.0.0.1; see the file header for what it reproduces. */
export class ConsulDouble {
  readonly #opts: Required<Omit<ConsulDoubleOptions, 'acl'>> & { acl: ConsulDoubleOptions['acl'] };
  #server: Server | undefined;
  #port: number;
  #services = new Map<string, Service>();
  #checks = new Map<string, Check>();
  #index = 1;
  #waiters = new Set<() => void>();
  #reaper: NodeJS.Timeout | undefined;
  /** Every request received since the last `start()`/`clearRequests()`, in order. */
  requests: RecordedRequest[] = [];

  constructor(options: ConsulDoubleOptions = {}) {
    this.#opts = {
      port: options.port ?? 0,
      acl: options.acl,
      reapIntervalMs: options.reapIntervalMs ?? 100,
      minimumReapAfterMs: options.minimumReapAfterMs ?? 0,
      nodeName: options.nodeName ?? 'double-node',
    };
    this.#port = this.#opts.port;
  }

  /** Creates and starts a double. */
  static async start(options: ConsulDoubleOptions = {}): Promise<ConsulDouble> {
    const d = new ConsulDouble(options);
    await d.start();
    return d;
  }

  /** The bound port (stable across restarts). */
  get port(): number {
    return this.#port;
  }

  /** `http://127.0.0.1:<port>`, what CONSUL_HTTP_ADDR would hold. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Whether the agent is up. */
  get running(): boolean {
    return this.#server !== undefined;
  }

  /** Registered services by ID, in the agent's `/v1/agent/services` shape. */
  get services(): Map<string, Readonly<Service>> {
    return this.#services;
  }

  /** Status of a check (`service:<id>` for a service's single check). */
  checkStatus(checkId: string): string | undefined {
    return this.#checks.get(checkId)?.Status;
  }

  /** Requests whose method and (decoded) path prefix match, e.g. `count('PUT', '/v1/agent/service/register')`. */
  count(method: string, pathPrefix: string): number {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix)).length;
  }

  /** Forgets the recorded requests. */
  clearRequests(): void {
    this.requests = [];
  }

  /** Starts listening (again) on 127.0.0.1 with an empty state. */
  async start(): Promise<void> {
    if (this.#server) return;
    this.#wipe();
    this.requests = [];
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    this.#reaper = setInterval(() => this.#reap(), this.#opts.reapIntervalMs);
    this.#reaper.unref();
  }

  /** Stops the agent: connections dropped, checks stopped, state wiped (like a dev agent's exit). */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    clearInterval(this.#reaper);
    this.#wipe();
    for (const wake of this.#waiters) wake();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** `stop()` then `start()` on the same port: an agent restart that lost its state. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  #wipe(): void {
    for (const c of this.#checks.values()) this.#stopCheck(c);
    this.#services.clear();
    this.#checks.clear();
    this.#index = 1;
  }

  #bump(): void {
    this.#index++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const auth = req.headers.authorization;
    const token =
      (req.headers['x-consul-token'] as string | undefined) ??
      (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined) ??
      url.searchParams.get('token') ??
      undefined;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: safeDecode(url.pathname),
      query: url.searchParams,
      token,
      body: raw,
      status: 0,
    };
    this.requests.push(record);
    let status = 200;
    let payload: unknown;
    const headers: Record<string, string> = {};
    try {
      if (raw !== '') {
        try {
          record.body = JSON.parse(raw);
        } catch (err) {
          if (req.method === 'PUT') throw new HttpError(400, `Request decode failed: ${(err as Error).message}`);
        }
      }
      payload = await this.#route(record, url.pathname, headers);
    } catch (err) {
      status = err instanceof HttpError ? err.status : 500;
      payload = err instanceof Error ? err.message : String(err);
    }
    record.status = status;
    if (res.destroyed) return;
    if (typeof payload === 'string' && status !== 200) {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(payload);
    } else if (payload === undefined) {
      res.writeHead(status, headers).end();
    } else {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
    }
  }

  async #route(r: RecordedRequest, p: string, headers: Record<string, string>): Promise<unknown> {
    const m = r.method;
    const put = (): void => {
      if (m !== 'PUT') throw new HttpError(405, `method ${m} not allowed`);
    };
    const get = (): void => {
      if (m !== 'GET' && m !== 'HEAD') throw new HttpError(405, `method ${m} not allowed`);
    };
    let match: RegExpMatchArray | null;
    if (p === '/v1/agent/service/register') {
      put();
      return this.#register(r);
    }
    if ((match = p.match(/^\/v1\/agent\/service\/deregister\/(.+)$/))) {
      put();
      const id = decodeURIComponent(match[1]);
      this.#authorize(r.token, 'write', `service:write on "${this.#services.get(id)?.Service ?? id}"`);
      if (!this.#services.has(id))
        throw new HttpError(
          404,
          `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
        );
      this.#removeService(id);
      return undefined;
    }
    if ((match = p.match(/^\/v1\/agent\/check\/(pass|warn|fail|update)\/(.+)$/))) {
      put();
      const id = decodeURIComponent(match[2]);
      const check = this.#checks.get(id);
      this.#authorize(r.token, 'write', `service:write on "${check?.ServiceName ?? id}"`);
      if (check?.Type !== 'ttl') throw new HttpError(404, `CheckID "${id}" does not have associated TTL`);
      let status: Check['Status'];
      let output = r.query.get('note') ?? '';
      if (match[1] === 'update') {
        const b = (r.body ?? {}) as { Status?: string; Output?: string };
        if (!['passing', 'warning', 'critical'].includes(b.Status ?? ''))
          throw new HttpError(400, 'Invalid check status');
        status = b.Status as Check['Status'];
        output = b.Output ?? '';
      } else {
        status = ({ pass: 'passing', warn: 'warning', fail: 'critical' } as const)[
          match[1] as 'pass' | 'warn' | 'fail'
        ];
      }
      this.#setStatus(check, status, output);
      this.#armTtl(check);
      return undefined;
    }
    if (p === '/v1/agent/services') {
      get();
      this.#authorize(r.token, 'read');
      return Object.fromEntries([...this.#services].map(([id, s]) => [id, this.#agentService(s)]));
    }
    if ((match = p.match(/^\/v1\/agent\/service\/([^/]+)$/))) {
      get();
      this.#authorize(r.token, 'read');
      const s = this.#services.get(decodeURIComponent(match[1]));
      if (!s) throw new HttpError(404, `unknown service ID: ${decodeURIComponent(match[1])}`);
      return this.#agentService(s);
    }
    if (p === '/v1/agent/checks') {
      get();
      this.#authorize(r.token, 'read');
      return Object.fromEntries([...this.#checks].map(([id, c]) => [id, this.#publicCheck(c)]));
    }
    if (p === '/v1/agent/self') {
      get();
      this.#authorize(r.token, 'read');
      return {
        Config: {
          Datacenter: 'dc1',
          NodeName: this.#opts.nodeName,
          NodeID: '00000000-0000-0000-0000-000000000001',
          Revision: 'double',
          Server: true,
          Version: VERSION,
        },
        Member: {
          Name: this.#opts.nodeName,
          Addr: '127.0.0.1',
          Port: 8301,
          Status: 1,
          Tags: { dc: 'dc1', role: 'consul', build: VERSION },
        },
        Meta: {},
        Stats: { agent: { checks: String(this.#checks.size), services: String(this.#services.size) } },
      };
    }
    if (p === '/v1/status/leader') {
      get();
      return '127.0.0.1:8300';
    }
    if (p === '/v1/catalog/services') {
      get();
      this.#authorize(r.token, 'read');
      await this.#block(r, headers);
      const out: Record<string, string[]> = { consul: [] };
      for (const s of this.#services.values()) out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])];
      return out;
    }
    if ((match = p.match(/^\/v1\/health\/service\/([^/]+)$/))) {
      get();
      this.#authorize(r.token, 'read');
      await this.#block(r, headers);
      const name = decodeURIComponent(match[1]);
      const passingOnly = r.query.has('passing') && r.query.get('passing') !== 'false';
      const tags = r.query.getAll('tag');
      const entries = [];
      for (const s of this.#services.values()) {
        if (s.Service !== name || !tags.every((t) => s.Tags.includes(t))) continue;
        const checks = [...this.#checks.values()].filter((c) => c.ServiceID === s.ID);
        if (passingOnly && checks.some((c) => c.Status !== 'passing')) continue;
        entries.push({
          Node: {
            ID: '00000000-0000-0000-0000-000000000001',
            Node: this.#opts.nodeName,
            Address: '127.0.0.1',
            Datacenter: 'dc1',
            TaggedAddresses: {},
            Meta: {},
          },
          Service: this.#agentService(s),
          Checks: checks.map((c) => this.#publicCheck(c)),
        });
      }
      return entries;
    }
    throw new HttpError(404, '404 page not found');
  }

  /** Blocking query: with `?index=N`, wait until the index moves past N or `wait` elapses. */
  async #block(r: RecordedRequest, headers: Record<string, string>): Promise<void> {
    const index = Number(r.query.get('index') ?? 0);
    if (index > 0 && index >= this.#index) {
      const waitMs = Math.min(r.query.has('wait') ? duration(r.query.get('wait')) : 300_000, 600_000);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        timer.unref();
        this.#waiters.add(done);
      });
    }
    headers['X-Consul-Index'] = String(this.#index);
    headers['X-Consul-KnownLeader'] = 'true';
    headers['X-Consul-LastContact'] = '0';
  }

  #authorize(token: string | undefined, need: 'read' | 'write', what = ''): void {
    const acl = this.#opts.acl;
    if (!acl) return;
    const writers = acl.write ?? [];
    const readers = acl.read ?? [];
    if (token !== undefined && token !== '' && !writers.includes(token) && !readers.includes(token))
      throw new HttpError(403, 'ACL not found');
    if (need === 'write' && (token === undefined || !writers.includes(token))) {
      const who =
        token === undefined || token === ''
          ? 'anonymous token'
          : `token with AccessorID '${token.slice(0, 8)}-accessor'`;
      throw new HttpError(
        403,
        `Permission denied: ${who} lacks permission '${what.split(' on ')[0]}' on ${what.split(' on ')[1] ?? '"?"'}`,
      );
    }
  }

  #register(r: RecordedRequest): undefined {
    const b = r.body as Record<string, unknown> | undefined;
    if (typeof b !== 'object' || b === null || Array.isArray(b))
      throw new HttpError(400, 'Request decode failed: body must be a JSON object');
    const name = b.Name;
    if (typeof name !== 'string' || name === '') throw new HttpError(400, 'Missing service name');
    this.#authorize(r.token, 'write', `service:write on "${name}"`);
    const id = typeof b.ID === 'string' && b.ID !== '' ? b.ID : name;
    const address = b.Address ?? '';
    if (typeof address !== 'string') throw new HttpError(400, 'Request decode failed: Address must be a string');
    if (WILDCARD.has(address)) throw new HttpError(400, 'Invalid service address');
    const port = b.Port ?? 0;
    if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)
      throw new HttpError(400, `Request decode failed: invalid Port ${JSON.stringify(port)}`);
    const tags = (b.Tags ?? []) as unknown;
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
      throw new HttpError(400, 'Request decode failed: Tags must be an array of strings');
    const meta = (b.Meta ?? {}) as Record<string, unknown>;
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
      throw new HttpError(400, 'Request decode failed: Meta must be an object');
    if (Object.keys(meta).length > 64)
      throw new HttpError(400, 'Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs');
    for (const [k, v] of Object.entries(meta)) {
      if (!/^[a-zA-Z0-9_-]+$/.test(k) || k.length > 128)
        throw new HttpError(400, `Invalid Service Meta: Key contains invalid characters: "${k}"`);
      if (k.startsWith('consul-'))
        throw new HttpError(400, `Invalid Service Meta: Key prefix 'consul-' is reserved for internal use`);
      if (typeof v !== 'string') throw new HttpError(400, 'Request decode failed: Meta values must be strings');
      if (v.length > 512) throw new HttpError(400, `Invalid Service Meta: Value is too long (limit: 512 characters)`);
    }
    const defs: Record<string, unknown>[] = [];
    if (b.Check !== undefined && b.Check !== null) defs.push(b.Check as Record<string, unknown>);
    if (Array.isArray(b.Checks)) defs.push(...(b.Checks as Record<string, unknown>[]));
    // Validate every check before changing anything, as Consul does.
    const parsed = defs.map((c) => {
      const interval = duration(c.Interval);
      const ttl = duration(c.TTL);
      const timeout = duration(c.Timeout);
      const deregisterAfter = duration(c.DeregisterCriticalServiceAfter);
      const intervalCheck = ['HTTP', 'TCP', 'UDP', 'GRPC', 'H2PING', 'Args', 'Script'].some(
        (k) => c[k] !== undefined && c[k] !== '',
      );
      if (interval > 0 && ttl > 0) throw new HttpError(400, 'Invalid check: Interval and TTL cannot both be specified');
      if (intervalCheck && interval <= 0)
        throw new HttpError(400, 'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks');
      if (!intervalCheck && ttl <= 0) throw new HttpError(400, 'Invalid check: TTL must be > 0 for TTL checks');
      if (intervalCheck && c.HTTP === undefined)
        throw new HttpError(400, 'Invalid check: only HTTP and TTL checks are supported by this test double');
      if (c.HTTP !== undefined) {
        try {
          new URL(String(c.HTTP));
        } catch {
          throw new HttpError(400, `Invalid check: invalid HTTP URL ${JSON.stringify(c.HTTP)}`);
        }
      }
      if (c.Status !== undefined && !['passing', 'warning', 'critical'].includes(c.Status as string)) {
        throw new HttpError(400, "Status for checks must 'passing', 'warning', 'critical'");
      }
      return { c, interval, ttl, timeout, deregisterAfter };
    });

    const old = this.#services.get(id);
    if (old) this.#removeService(id, false);
    const service: Service = {
      ID: id,
      Service: name,
      Tags: tags as string[],
      Meta: meta as Record<string, string>,
      Port: port as number,
      Address: address,
      TaggedAddresses: {},
      Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: Boolean(b.EnableTagOverride),
      Datacenter: 'dc1',
      CreateIndex: old?.CreateIndex ?? this.#index + 1,
      ModifyIndex: this.#index + 1,
    };
    this.#services.set(id, service);
    parsed.forEach(({ c, interval, ttl, timeout, deregisterAfter }, i) => {
      const checkId =
        typeof c.CheckID === 'string' && c.CheckID !== ''
          ? c.CheckID
          : parsed.length > 1
            ? `service:${id}:${i + 1}`
            : `service:${id}`;
      const check: Check = {
        Node: this.#opts.nodeName,
        CheckID: checkId,
        Name: typeof c.Name === 'string' && c.Name !== '' ? c.Name : `Service '${name}' check`,
        Status: (c.Status as Check['Status'] | undefined) ?? 'critical',
        Notes: typeof c.Notes === 'string' ? c.Notes : '',
        Output: '',
        ServiceID: id,
        ServiceName: name,
        ServiceTags: service.Tags,
        Type: ttl > 0 ? 'ttl' : 'http',
        Interval: ttl > 0 ? '' : String(c.Interval),
        Timeout: c.Timeout === undefined ? '' : String(c.Timeout),
        Definition: { ...c },
        CreateIndex: this.#index + 1,
        ModifyIndex: this.#index + 1,
      };
      if (check.Status === 'critical') check.criticalSince = Date.now();
      if (deregisterAfter > 0) check.deregisterAfterMs = Math.max(deregisterAfter, this.#opts.minimumReapAfterMs);
      this.#checks.set(checkId, check);
      if (ttl > 0) {
        check.ttlMs = ttl;
        this.#armTtl(check);
      } else {
        check.http = {
          url: String(c.HTTP),
          method: typeof c.Method === 'string' ? c.Method : 'GET',
          intervalMs: interval,
          timeoutMs: timeout > 0 ? timeout : 10_000,
        };
        this.#runHttpCheck(check);
      }
    });
    this.#bump();
    return undefined;
  }

  #removeService(id: string, bump = true): void {
    this.#services.delete(id);
    for (const [cid, c] of this.#checks) {
      if (c.ServiceID === id) {
        this.#stopCheck(c);
        this.#checks.delete(cid);
      }
    }
    if (bump) this.#bump();
  }

  #stopCheck(c: Check): void {
    clearTimeout(c.ttlTimer);
    clearTimeout(c.http?.timer);
    c.http?.running?.abort();
    if (c.http) c.http.timer = undefined;
  }

  #setStatus(c: Check, status: Check['Status'], output: string): void {
    if (status === 'critical' && c.Status !== 'critical') c.criticalSince = Date.now();
    if (status !== 'critical') c.criticalSince = undefined;
    const changed = c.Status !== status || c.Output !== output;
    c.Status = status;
    c.Output = output;
    if (changed) {
      c.ModifyIndex = this.#index + 1;
      this.#bump();
    }
  }

  #armTtl(c: Check): void {
    clearTimeout(c.ttlTimer);
    c.ttlTimer = setTimeout(() => {
      if (this.#checks.get(c.CheckID) === c) this.#setStatus(c, 'critical', 'TTL expired');
    }, c.ttlMs);
    c.ttlTimer.unref();
  }

  #runHttpCheck(c: Check): void {
    const h = c.http;
    if (!h) return;
    const controller = new AbortController();
    h.running = controller;
    const timeout = setTimeout(() => controller.abort(), h.timeoutMs);
    timeout.unref();
    void fetch(h.url, { method: h.method, signal: controller.signal, headers: { 'user-agent': 'Consul Health Check' } })
      .then(async (res) => {
        const text = (await res.text()).slice(0, 4096);
        const status = res.status >= 200 && res.status < 300 ? 'passing' : res.status === 429 ? 'warning' : 'critical';
        return {
          status,
          output: `HTTP ${h.method} ${h.url}: ${res.status} ${res.statusText} Output: ${text}`,
        } as const;
      })
      .catch(
        (err: Error) =>
          ({
            status: 'critical',
            output: `Get "${h.url}": ${(err.cause as Error | undefined)?.message ?? err.message}`,
          }) as const,
      )
      .then(({ status, output }) => {
        clearTimeout(timeout);
        if (this.#checks.get(c.CheckID) !== c) return; // removed or replaced meanwhile
        h.running = undefined;
        this.#setStatus(c, status, output);
        h.timer = setTimeout(() => this.#runHttpCheck(c), h.intervalMs);
        h.timer.unref();
      });
  }

  #reap(): void {
    const now = Date.now();
    for (const c of [...this.#checks.values()]) {
      if (
        c.deregisterAfterMs !== undefined &&
        c.Status === 'critical' &&
        c.criticalSince !== undefined &&
        now - c.criticalSince > c.deregisterAfterMs
      ) {
        if (this.#services.has(c.ServiceID)) this.#removeService(c.ServiceID);
      }
    }
  }

  #agentService(s: Service): Record<string, unknown> {
    const { CreateIndex: _c, ModifyIndex: _m, ...rest } = s;
    return { ...rest, ContentHash: `${s.ModifyIndex.toString(16).padStart(16, '0')}` };
  }

  #publicCheck(c: Check): Record<string, unknown> {
    const { http: _h, ttlMs: _t, ttlTimer: _tt, deregisterAfterMs: _d, criticalSince: _cs, ...rest } = c;
    return rest;
  }
}
