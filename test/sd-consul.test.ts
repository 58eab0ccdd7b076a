import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsulAgent, type ConsulAgentOptions } from '../sd/consul';
import { resolveConnection } from '../sd/consul-config';
import { InvalidSdOptionError } from '../errors';
import type { Deregister } from '../sd/types';
import { ConsulDouble } from './consul-double';
import { freePort, recordingLogger, sleep, startTarget, waitFor, type Target } from './fixtures/sd-helpers';

// ConsulAgent against test/consul-double.ts (Consul 1.20's agent API on 127.0.0.1) and a plain
// node:http server standing in for the metrics server.

let agent: ConsulDouble;
const targets: Target[] = [];
const deregisters: Deregister[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'promsd-sd-consul-'));

async function target(addr?: string): Promise<Target> {
  const t = await startTarget(addr);
  targets.push(t);
  return t;
}

/** A ConsulAgent pointed at the double, with fast timers; `env: {}` keeps the host's CONSUL_* out. */
function consulAgent(options: ConsulAgentOptions = {}): ConsulAgent {
  return new ConsulAgent({
    agentAddress: agent.url,
    env: {},
    logger: recordingLogger(),
    retry: { initialDelay: '50ms', maxDelay: '200ms' },
    ...options,
  });
}

async function register(sd: ConsulAgent, t: Target): Promise<Deregister> {
  const d = await sd.register(t.info);
  deregisters.push(d);
  return d;
}

beforeEach(async () => {
  agent = await ConsulDouble.start();
});

afterEach(async () => {
  await Promise.allSettled(deregisters.splice(0).map((d) => d()));
  await agent.stop();
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

describe('ConsulAgent registration', () => {
  it('registers the documented body: unique ID, tags, meta, address, HTTP check on /healthz, 1m reaping', async () => {
    const t = await target();
    const sd = consulAgent();
    await register(sd, t);
    expect(sd.isRegistered).toBe(true);
    const id = `app-metrics-${hostname()}-${t.port}`.replace(/[^A-Za-z0-9._-]/g, '-');
    expect(sd.serviceId).toBe(id);
    const req = agent.requests.find((r) => r.path === '/v1/agent/service/register');
    expect(req?.method).toBe('PUT');
    expect(req?.body).toEqual({
      Name: 'app-metrics',
      ID: id,
      Tags: ['metrics'],
      Meta: { metrics_path: '/metrics', metrics_scheme: 'http' },
      Address: '127.0.0.1',
      Port: t.port,
      Check: {
        Name: `Metrics endpoint of ${id}`,
        HTTP: `http://127.0.0.1:${t.port}/healthz`,
        Interval: '10s',
        Timeout: '5s',
        DeregisterCriticalServiceAfter: '1m',
      },
    });
    expect(agent.services.get(id)).toMatchObject({
      ID: id,
      Service: 'app-metrics',
      Address: '127.0.0.1',
      Port: t.port,
    });
  });

  it('the agent runs the HTTP check against the server and marks it passing', async () => {
    const t = await target();
    const sd = consulAgent();
    await register(sd, t);
    await waitFor('check passing', () => agent.checkStatus(`service:${sd.serviceId}`) === 'passing');
    expect(t.hits.get('/healthz')).toBeGreaterThanOrEqual(1);
    const res = await fetch(`${agent.url}/v1/health/service/app-metrics?passing`);
    const entries = (await res.json()) as { Service: { ID: string }; Checks: { Status: string }[] }[];
    expect(entries.map((e) => e.Service.ID)).toEqual([sd.serviceId]);
    expect(Number(res.headers.get('x-consul-index'))).toBeGreaterThan(1);
  });

  it('passes every option through: name, serviceId, tags, meta, address, check path and interval', async () => {
    const t = await target();
    const sd = consulAgent({
      name: 'checkout',
      serviceId: 'checkout-1',
      tags: ['metrics', 'eu'],
      meta: { team: 'payments', metrics_path: '/custom' },
      address: '127.0.0.1',
      check: { type: 'http', path: '/', interval: '2s', timeout: '1s' },
      deregisterCriticalServiceAfter: '90s',
    });
    await register(sd, t);
    const body = agent.requests.find((r) => r.path === '/v1/agent/service/register')?.body as Record<string, unknown>;
    expect(body).toMatchObject({
      Name: 'checkout',
      ID: 'checkout-1',
      Tags: ['metrics', 'eu'],
      Meta: { team: 'payments', metrics_path: '/custom', metrics_scheme: 'http' },
      Check: {
        HTTP: `http://127.0.0.1:${t.port}/`,
        Interval: '2s',
        Timeout: '1s',
        DeregisterCriticalServiceAfter: '90s',
      },
    });
  });

  it('deregisters on close: the service disappears from the agent and isRegistered turns false', async () => {
    const t = await target();
    const sd = consulAgent();
    const deregister = await register(sd, t);
    await deregister();
    expect(agent.services.size).toBe(0);
    expect(agent.count('PUT', `/v1/agent/service/deregister/${sd.serviceId}`)).toBe(1);
    expect(sd.isRegistered).toBe(false);
    await deregister(); // idempotent: no second call to the agent
    expect(agent.count('PUT', '/v1/agent/service/deregister/')).toBe(1);
  });

  it('with deregister: false, close leaves the service for Consul to reap', async () => {
    const t = await target();
    const sd = consulAgent({ deregister: false });
    const deregister = await register(sd, t);
    await deregister();
    expect(agent.services.has(sd.serviceId as string)).toBe(true);
    expect(agent.count('PUT', '/v1/agent/service/deregister/')).toBe(0);
  });

  it('gives two replicas distinct default IDs, so neither overwrites the other', async () => {
    const [a, b] = [await target(), await target()];
    const [sa, sb] = [consulAgent(), consulAgent()];
    await register(sa, a);
    await register(sb, b);
    expect(sa.serviceId).not.toBe(sb.serviceId);
    expect([...agent.services.keys()].sort()).toEqual([sa.serviceId, sb.serviceId].sort());
    const catalog = (await (await fetch(`${agent.url}/v1/catalog/services`)).json()) as Record<string, string[]>;
    expect(catalog).toEqual({ consul: [], 'app-metrics': ['metrics'] });
  });

  it("replaces a wildcard bind address with the host's first non-internal IPv4", async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === 'IPv4')?.address;
    const t = await target('0.0.0.0');
    const sd = consulAgent({ check: 'ttl' });
    await register(sd, t);
    const service = agent.services.get(sd.serviceId as string);
    expect(service?.Address).toBe(external ?? '127.0.0.1');
    expect(service?.Address).not.toBe('0.0.0.0');
  });

  it('refuses a second register() on the same instance', async () => {
    const t = await target();
    const sd = consulAgent();
    await register(sd, t);
    await expect(sd.register(t.info)).rejects.toThrow(
      'ConsulAgent: register() was already called; use one ConsulAgent per metrics server',
    );
  });

  it('rejects a server info that is not one', async () => {
    await expect(consulAgent().register({ socket: { addr: '127.0.0.1', port: 0 } } as never)).rejects.toThrow(
      /ConsulAgent\.register\(server\): server must be a MetricsServerInfo .*got \{"socket":\{"addr":"127.0.0.1","port":0\}\}/,
    );
  });
});

describe('ConsulAgent when Consul refuses', () => {
  it("reports an explicit 0.0.0.0 address once with Consul's 400 message and does not retry in a loop", async () => {
    const t = await target();
    const logger = recordingLogger();
    const sd = consulAgent({ address: '0.0.0.0', logger, retry: { initialDelay: '10ms', maxDelay: '1m' } });
    await register(sd, t);
    await sleep(1000);
    expect(sd.isRegistered).toBe(false);
    expect(agent.count('PUT', '/v1/agent/service/register')).toBe(1);
    expect(agent.requests[0].status).toBe(400);
    expect(logger.at('error')).toEqual([
      `ConsulAgent: Consul at ${agent.url} refused to register service "${sd.serviceId}" (HTTP 400): Invalid service address; retrying every 60s`,
    ]);
    expect(agent.services.size).toBe(0);
  });

  it('reports a wrong ACL token (403 ACL not found) once and keeps the server running', async () => {
    await agent.stop();
    agent = await ConsulDouble.start({ acl: { write: ['s3cret'] } });
    const t = await target();
    const logger = recordingLogger();
    const sd = consulAgent({ token: 'wrong', logger, retry: { initialDelay: '10ms', maxDelay: '1m' } });
    await register(sd, t);
    await sleep(300);
    expect(agent.count('PUT', '/v1/agent/service/register')).toBe(1);
    expect(agent.requests[0].token).toBe('wrong');
    expect(logger.at('error')).toHaveLength(1);
    expect(logger.at('error')[0]).toContain('(HTTP 403): ACL not found');
    expect(sd.isRegistered).toBe(false);
  });

  it('retries a refusal slowly (every retry.maxDelay) and registers once the operator fixes it', async () => {
    await agent.stop();
    agent = await ConsulDouble.start({ acl: { write: ['s3cret'] } });
    const t = await target();
    const logger = recordingLogger();
    const sd = consulAgent({ logger, retry: { initialDelay: '10ms', maxDelay: '300ms' } });
    await register(sd, t);
    expect(logger.at('error')[0]).toContain(
      '(HTTP 403): Permission denied: anonymous token lacks permission \'service:write\' on "app-metrics"',
    );
    await sleep(700);
    const attempts = agent.count('PUT', '/v1/agent/service/register');
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(4);
    expect(logger.at('error')).toHaveLength(1); // the same refusal is not repeated
    // The operator grants the anonymous token service:write (here: ACLs off).
    await agent.stop();
    agent = await ConsulDouble.start({ port: agent.port });
    await waitFor('registration after the fix', () => sd.isRegistered, 2000);
    expect(agent.services.has(sd.serviceId as string)).toBe(true);
  });
});

describe('ConsulAgent robustness', () => {
  it('starts with the agent down, retries with backoff, and registers when it comes up', async () => {
    const port = await freePort();
    const t = await target();
    const logger = recordingLogger();
    const sd = consulAgent({
      agentAddress: `127.0.0.1:${port}`,
      logger,
      retry: { initialDelay: '50ms', maxDelay: '200ms' },
    });
    const started = Date.now();
    const deregister = await register(sd, t);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(typeof deregister).toBe('function');
    expect(sd.isRegistered).toBe(false);
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]).toMatch(/cannot reach the Consul agent at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    await sleep(400);
    expect(sd.isRegistered).toBe(false);
    const late = new ConsulDouble({ port });
    await late.start();
    try {
      await waitFor('registration after the agent came up', () => sd.isRegistered, 3000);
      expect(late.services.has(sd.serviceId as string)).toBe(true);
      expect(logger.at('warn')).toHaveLength(1); // one warning per outage, retries at debug
      expect(logger.at('debug').length).toBeGreaterThanOrEqual(1);
    } finally {
      await deregister();
      await late.stop();
    }
  });

  it('registers again when the agent restarts with its state wiped (periodic check of /v1/agent/services)', async () => {
    const t = await target();
    const logger = recordingLogger();
    const sd = consulAgent({ syncInterval: '150ms', logger });
    await register(sd, t);
    await agent.restart();
    expect(agent.services.size).toBe(0);
    // The agent stores the service before its answer reaches the plugin: wait for both.
    await waitFor('re-registration', () => agent.services.has(sd.serviceId as string) && sd.isRegistered, 3000);
    expect(logger.at('info').at(-1)).toContain('again');
  });

  it('TTL check: heartbeats at 2/3 of the TTL keep it passing', async () => {
    const t = await target();
    const sd = consulAgent({ check: { type: 'ttl', ttl: '600ms' } });
    await register(sd, t);
    const body = agent.requests.find((r) => r.path === '/v1/agent/service/register')?.body as { Check: unknown };
    expect(body.Check).toEqual({
      Name: `Heartbeat of ${sd.serviceId}`,
      TTL: '600ms',
      DeregisterCriticalServiceAfter: '1m',
    });
    expect(agent.checkStatus(`service:${sd.serviceId}`)).toBe('passing');
    await sleep(1300);
    expect(agent.checkStatus(`service:${sd.serviceId}`)).toBe('passing');
    // One at registration, then one every 400 ms.
    expect(agent.count('PUT', `/v1/agent/check/pass/service:${sd.serviceId}`)).toBeGreaterThanOrEqual(3);
  });

  it('TTL check: a heartbeat answered 404 (agent forgot the service) triggers re-registration', async () => {
    const t = await target();
    const sd = consulAgent({ check: { type: 'ttl', ttl: '300ms' }, syncInterval: '1h' });
    await register(sd, t);
    await agent.restart();
    await waitFor('re-registration', () => agent.services.has(sd.serviceId as string), 3000);
    expect(agent.requests.some((r) => r.path.startsWith('/v1/agent/check/pass/') && r.status === 404)).toBe(true);
    await waitFor('passing again', () => agent.checkStatus(`service:${sd.serviceId}`) === 'passing');
  });

  it('without heartbeats the TTL check goes critical, and Consul reaps it after deregisterCriticalServiceAfter', async () => {
    const t = await target();
    const sd = consulAgent({
      check: { type: 'ttl', ttl: '200ms' },
      deregisterCriticalServiceAfter: '500ms',
      deregister: false,
    });
    const stop = await register(sd, t);
    await stop(); // a process that died without deregistering: heartbeats stop, the service stays
    expect(agent.services.has(sd.serviceId as string)).toBe(true);
    await waitFor('critical', () => agent.checkStatus(`service:${sd.serviceId}`) === 'critical', 2000);
    await waitFor('reaped', () => !agent.services.has(sd.serviceId as string), 3000);
  });

  it('an unhealthy HTTP endpoint goes critical and is reaped after deregisterCriticalServiceAfter', async () => {
    const t = await target();
    t.healthy = false;
    const sd = consulAgent({
      check: { type: 'http', interval: '100ms' },
      deregisterCriticalServiceAfter: '1s',
      deregister: false,
    });
    const stop = await register(sd, t);
    await stop();
    await waitFor('critical', () => agent.checkStatus(`service:${sd.serviceId}`) === 'critical');
    expect(agent.services.has(sd.serviceId as string)).toBe(true);
    await waitFor('reaped', () => !agent.services.has(sd.serviceId as string), 4000);
  });

  it('close() with the agent gone resolves quickly and says so', async () => {
    const t = await target();
    const logger = recordingLogger();
    const sd = consulAgent({ logger, requestTimeout: '2s' });
    const deregister = await register(sd, t);
    await agent.stop();
    const started = Date.now();
    await expect(deregister()).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(2500);
    expect(logger.at('warn').at(-1)).toMatch(
      /cannot reach the Consul agent .* to deregister .*Consul will drop it after 1m critical/,
    );
    expect(sd.isRegistered).toBe(false);
  });

  it('after deregistration no timer talks to the agent any more', async () => {
    const t = await target();
    const sd = consulAgent({ check: { type: 'ttl', ttl: '150ms' }, syncInterval: '100ms' });
    const deregister = await register(sd, t);
    await sleep(250);
    await deregister();
    const seen = agent.requests.length;
    await sleep(500);
    expect(agent.requests.length).toBe(seen);
  });

  it("a deregistration refused by ACL rejects with ConsulApiError carrying Consul's message", async () => {
    await agent.stop();
    agent = await ConsulDouble.start({ acl: { write: ['s3cret'] } });
    const t = await target();
    const sd = consulAgent({ token: 's3cret' });
    const deregister = await register(sd, t);
    expect(sd.isRegistered).toBe(true);
    // The token is revoked while the service runs.
    await agent.stop();
    agent = await ConsulDouble.start({ port: agent.port, acl: { write: ['other'], read: ['s3cret'] } });
    await fetch(`${agent.url}/v1/agent/service/register`, {
      method: 'PUT',
      headers: { 'x-consul-token': 'other' },
      body: JSON.stringify({ Name: 'app-metrics', ID: sd.serviceId, Port: t.port }),
    });
    await expect(deregister()).rejects.toMatchObject({
      name: 'ConsulApiError',
      statusCode: 403,
      message: `PUT /v1/agent/service/deregister/${sd.serviceId}: Consul answered 403: Permission denied: token with AccessorID 's3cret-accessor' lacks permission 'service:write' on "app-metrics"`,
    });
  });
});

describe("ConsulAgent and Consul's environment variables", () => {
  it('CONSUL_HTTP_ADDR (host:port or URL) and CONSUL_HTTP_TOKEN are used when options are absent', async () => {
    await agent.stop();
    agent = await ConsulDouble.start({ acl: { write: ['env-token'] } });
    for (const addr of [`127.0.0.1:${agent.port}`, agent.url]) {
      const t = await target();
      const sd = new ConsulAgent({
        env: { CONSUL_HTTP_ADDR: addr, CONSUL_HTTP_TOKEN: 'env-token' },
        logger: recordingLogger(),
      });
      expect(sd.agentAddress).toBe(agent.url);
      await register(sd, t);
      expect(sd.isRegistered).toBe(true);
      expect(agent.requests.at(-1)?.token).toBe('env-token');
    }
  });

  it('CONSUL_HTTP_TOKEN_FILE is read (trimmed) and wins over CONSUL_HTTP_TOKEN; the token option wins over both', async () => {
    await agent.stop();
    agent = await ConsulDouble.start({ acl: { write: ['file-token', 'option-token'] } });
    const file = join(tmp, 'token');
    writeFileSync(file, 'file-token\n');
    const t = await target();
    const sd = new ConsulAgent({
      env: { CONSUL_HTTP_ADDR: agent.url, CONSUL_HTTP_TOKEN: 'env-token', CONSUL_HTTP_TOKEN_FILE: file },
      logger: recordingLogger(),
    });
    await register(sd, t);
    expect(sd.isRegistered).toBe(true);
    expect(agent.requests[0].token).toBe('file-token');
    const t2 = await target();
    const sd2 = new ConsulAgent({
      token: 'option-token',
      env: { CONSUL_HTTP_ADDR: agent.url, CONSUL_HTTP_TOKEN_FILE: file },
      logger: recordingLogger(),
    });
    await register(sd2, t2);
    expect(agent.requests.at(-1)?.token).toBe('option-token');
  });

  it('the agentAddress option wins over CONSUL_HTTP_ADDR; the default is http://127.0.0.1:8500', () => {
    expect(
      new ConsulAgent({ agentAddress: 'consul.internal:8501', env: { CONSUL_HTTP_ADDR: 'elsewhere:1' } }).agentAddress,
    ).toBe('http://consul.internal:8501');
    expect(new ConsulAgent({ env: {} }).agentAddress).toBe('http://127.0.0.1:8500');
    expect(new ConsulAgent({ env: { CONSUL_HTTP_ADDR: 'consul' } }).agentAddress).toBe('http://consul:8500');
  });

  it('CONSUL_HTTP_SSL, CONSUL_HTTP_SSL_VERIFY, CONSUL_CACERT, CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY configure TLS', () => {
    for (const [name, text] of [
      ['ca.pem', 'CA'],
      ['cert.pem', 'CERT'],
      ['key.pem', 'KEY'],
    ])
      writeFileSync(join(tmp, name), text);
    const c = resolveConnection(
      {},
      {
        CONSUL_HTTP_ADDR: 'consul:8501',
        CONSUL_HTTP_SSL: 'true',
        CONSUL_HTTP_SSL_VERIFY: 'false',
        CONSUL_CACERT: join(tmp, 'ca.pem'),
        CONSUL_CLIENT_CERT: join(tmp, 'cert.pem'),
        CONSUL_CLIENT_KEY: join(tmp, 'key.pem'),
      },
    );
    expect(c).toEqual({
      baseUrl: 'https://consul:8501/v1',
      display: 'https://consul:8501',
      token: undefined,
      tls: { ca: 'CA', cert: 'CERT', key: 'KEY', rejectUnauthorized: false },
    });
    // An explicit scheme wins over CONSUL_HTTP_SSL; options win over the environment.
    expect(
      resolveConnection(
        { agentAddress: 'http://consul:8500', tls: { rejectUnauthorized: true } },
        { CONSUL_HTTP_SSL: '1', CONSUL_HTTP_SSL_VERIFY: '0' },
      ),
    ).toMatchObject({
      display: 'http://consul:8500',
      tls: { rejectUnauthorized: true },
    });
  });
});

describe('ConsulAgent option validation', () => {
  const bad: [string, unknown, string | RegExp][] = [
    ['unknown option', { serviceID: 'x' }, 'ConsulAgent: unknown option "serviceID" (known: name, serviceId,'],
    ['options not an object', 'consul:8500', 'ConsulAgent: options must be an object, got "consul:8500"'],
    ['empty name', { name: '' }, 'ConsulAgent: name must be a non-empty string, got ""'],
    ['name with a slash', { name: 'a/b' }, 'ConsulAgent: name must not contain "/", got "a/b"'],
    ['serviceId not a string', { serviceId: 42 }, 'ConsulAgent: serviceId must be a non-empty string, got 42'],
    [
      'tags not an array',
      { tags: 'metrics' },
      'ConsulAgent: tags must be an array of non-empty strings, got "metrics"',
    ],
    ['tags with a number', { tags: ['a', 1] }, 'ConsulAgent: tags must be an array of non-empty strings, got ["a",1]'],
    [
      'meta key with a dot',
      { meta: { 'a.b': 'x' } },
      'ConsulAgent: meta: key "a.b" must be 1-128 letters, digits, "_" or "-"',
    ],
    ['meta key consul-*', { meta: { 'consul-x': 'x' } }, 'ConsulAgent: meta: key "consul-x" is reserved'],
    ['meta value not a string', { meta: { team: 1 } }, 'ConsulAgent: meta: value of "team" must be a string, got 1'],
    [
      'meta value too long',
      { meta: { team: 'x'.repeat(513) } },
      'ConsulAgent: meta: value of "team" is 513 characters; Consul allows 512',
    ],
    ['empty token', { token: '' }, 'ConsulAgent: token must be a non-empty string, got ""'],
    ['address not a string', { address: 127 }, 'ConsulAgent: address must be a non-empty string, got 127'],
    [
      'unknown check type',
      { check: 'tcp' },
      `ConsulAgent: check must be 'http', 'ttl', { type: 'http', path, interval, timeout } or { type: 'ttl', ttl }, got "tcp"`,
    ],
    [
      'check interval not a duration',
      { check: { type: 'http', interval: 'ten seconds' } },
      `ConsulAgent: check.interval must be a duration such as '10s', '1m' or '500ms' (or a number of milliseconds), got "ten seconds"`,
    ],
    [
      'check path without slash',
      { check: { type: 'http', path: 'healthz' } },
      'ConsulAgent: check.path must start with "/", got "healthz"',
    ],
    [
      'check ttl zero',
      { check: { type: 'ttl', ttl: '0s' } },
      'ConsulAgent: check.ttl must be a positive duration, got "0s"',
    ],
    [
      'check option of the other type',
      { check: { type: 'ttl', interval: '1s' } },
      'ConsulAgent: check: unknown option "interval" (known: type, ttl)',
    ],
    [
      'deregisterCriticalServiceAfter not a duration',
      { deregisterCriticalServiceAfter: 'forever' },
      `ConsulAgent: deregisterCriticalServiceAfter must be a duration such as '10s'`,
    ],
    [
      'negative requestTimeout',
      { requestTimeout: -1 },
      'ConsulAgent: requestTimeout must be a positive duration, got -1',
    ],
    ['deregister not a boolean', { deregister: 'yes' }, 'ConsulAgent: deregister must be true or false, got "yes"'],
    ['handleSignals not a boolean', { handleSignals: 1 }, 'ConsulAgent: handleSignals must be true or false, got 1'],
    [
      'agentAddress with an unsupported scheme',
      { agentAddress: 'ftp://consul:21' },
      'ConsulAgent: agentAddress must be host:port or an http(s):// URL without a path, got "ftp://consul:21"',
    ],
    [
      'agentAddress with a path',
      { agentAddress: 'http://consul:8500/v1' },
      'ConsulAgent: agentAddress must be host:port or an http(s):// URL without a path, got "http://consul:8500/v1"',
    ],
    [
      'agentAddress on a unix socket',
      { agentAddress: 'unix:///run/consul.sock' },
      'ConsulAgent: agentAddress: unix sockets are not supported, got "unix:///run/consul.sock"',
    ],
    [
      'retry.maxDelay below initialDelay',
      { retry: { initialDelay: '2s', maxDelay: '1s' } },
      `ConsulAgent: retry.maxDelay ("1s") must not be shorter than retry.initialDelay ("2s")`,
    ],
    [
      'unknown retry option',
      { retry: { attempts: 3 } },
      'ConsulAgent: retry: unknown option "attempts" (known: initialDelay, maxDelay)',
    ],
    [
      'logger without methods',
      { logger: { log() {} } },
      'ConsulAgent: logger must have debug, info, warn and error methods (missing debug); pino, winston and console fit, got {}',
    ],
    ['tls.ca not PEM', { tls: { ca: 5 } }, 'ConsulAgent: tls.ca must be a PEM string or Buffer, got 5'],
    [
      'unknown tls option',
      { tls: { verify: false } },
      'ConsulAgent: tls: unknown option "verify" (known: ca, cert, key, rejectUnauthorized)',
    ],
    ['env not an object', { env: 'prod' }, 'ConsulAgent: env must be an object of environment variables, got "prod"'],
    [
      'bad CONSUL_HTTP_ADDR',
      { env: { CONSUL_HTTP_ADDR: 'http://consul:8500/ui' } },
      'environment variable CONSUL_HTTP_ADDR must be host:port or an http(s):// URL without a path, got "http://consul:8500/ui"',
    ],
    [
      'bad CONSUL_HTTP_SSL',
      { env: { CONSUL_HTTP_SSL: 'maybe' } },
      'ConsulAgent: environment variable CONSUL_HTTP_SSL must be true or false, got "maybe"',
    ],
    [
      'bad CONSUL_HTTP_SSL_VERIFY',
      { env: { CONSUL_HTTP_SSL_VERIFY: 'no' } },
      'ConsulAgent: environment variable CONSUL_HTTP_SSL_VERIFY must be true or false, got "no"',
    ],
    [
      'unreadable CONSUL_HTTP_TOKEN_FILE',
      { env: { CONSUL_HTTP_TOKEN_FILE: '/nonexistent/token' } },
      /^ConsulAgent: cannot read CONSUL_HTTP_TOKEN_FILE="\/nonexistent\/token": ENOENT/,
    ],
    [
      'unreadable CONSUL_CACERT',
      { env: { CONSUL_CACERT: '/nonexistent/ca.pem' } },
      /^ConsulAgent: cannot read CONSUL_CACERT="\/nonexistent\/ca.pem": ENOENT/,
    ],
  ];
  it.each(bad)('%s is refused with a clear error', (_what, options, message) => {
    let error: unknown;
    try {
      new ConsulAgent(options as ConsulAgentOptions);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidSdOptionError);
    if (typeof message === 'string') expect((error as Error).message).toContain(message);
    else expect((error as Error).message).toMatch(message);
  });

  it('accepts Go duration strings as Consul writes them, and milliseconds', () => {
    for (const d of ['1s', '1m30s', '1.5h', '500ms', '250000us', 1500]) {
      expect(
        () => new ConsulAgent({ env: {}, deregisterCriticalServiceAfter: d, check: { type: 'ttl', ttl: d } }),
      ).not.toThrow();
    }
  });
});

describe('ConsulAgent handleSignals', () => {
  it('deregisters on SIGTERM, then lets the signal end the process', async () => {
    const out = join(tmp, 'signal-child.js');
    buildSync({
      entryPoints: [join(__dirname, 'fixtures', 'sd-signal-child.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      outfile: out,
      logLevel: 'error',
    });
    const child = spawn(process.execPath, [out], {
      env: { ...process.env, CONSUL_HTTP_ADDR: agent.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    await waitFor('child registered', () => output.includes('registered'), 8000);
    expect(agent.services.size).toBe(1);
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    expect(agent.services.size).toBe(0);
    expect(agent.count('PUT', '/v1/agent/service/deregister/')).toBe(1);
  });

  it('installs its SIGTERM/SIGINT listeners only when asked, and removes them on deregister', async () => {
    const t = await target();
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const plain = consulAgent();
    await register(plain, t);
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
    const t2 = await target();
    const sd = consulAgent({ handleSignals: true });
    const deregister = await register(sd, t2);
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual([before[0] + 1, before[1] + 1]);
    await deregister();
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
  });

  it("an agent that never answers does not keep the process alive (timers are unref'd)", async () => {
    const port = await freePort();
    const out = join(tmp, 'exit-child.js');
    buildSync({
      entryPoints: [join(__dirname, 'fixtures', 'sd-exit-child.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      outfile: out,
      logLevel: 'error',
    });
    const child = spawn(process.execPath, [out], {
      env: { ...process.env, CONSUL_HTTP_ADDR: `127.0.0.1:${port}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(output).toContain('registered: false');
  });
});
