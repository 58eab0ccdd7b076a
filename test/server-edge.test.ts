import { requireBuild } from './helpers/build';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../backend/redis';
import { ConfigError, InvalidOptionsError } from '../errors';
import type { Logger } from '../log';
import { loadBackend } from '../backend/load';
import { Counter } from '../metrics/counter';
import { Gauge } from '../metrics/gauge';
import { Registry, register } from '../metrics/registry';
import { metricsRequestListener, SCRAPE_FAILED_BODY } from '../server/app';
import { startHttpServer } from '../server/http';
import { startHttpServerInThread } from '../server/thread';
import { ConsulDouble } from './consul-double';
import { freePort, waitFor } from './fixtures/sd-helpers';
import { get, raw, refused } from './helpers/http';

// The metrics servers at the edge: what slow, many, old or odd clients get, what the environment
// configures, what a failing backend or plugin shows, and how signals close everything. Both
// servers (startHttpServer and startHttpServerInThread) over real sockets.

// The child processes (and the threaded server's worker) run from the build.
beforeAll(requireBuild);

/** A logger that keeps every line as `level message`. */
function recording(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

type Start = (
  o: Parameters<typeof startHttpServer>[0],
) => Promise<{ url: string; socket: { port: number }; close(): Promise<void> }>;
const SERVERS: [string, Start][] = [
  ['startHttpServer', (o) => startHttpServer(o)],
  ['startHttpServerInThread', (o) => startHttpServerInThread(o)],
];

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
});

/** Opens a connection that sends a request line and then one header line every 200 ms, forever. */
function slowHeaders(port: number): Promise<{ socket: Socket; closedAfterMs: Promise<number>; got: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    const opened = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const closedAfterMs = new Promise<number>((r) =>
      socket.once('close', () => {
        clearInterval(timer);
        r(Date.now() - opened);
      }),
    );
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
      timer = setInterval(() => socket.write('X-Slow: 1\r\n'), 200);
      resolve({ socket, closedAfterMs, got: () => data });
    });
    socket.once('error', reject);
  });
}

for (const [name, start] of SERVERS) {
  describe(`${name} at the edge`, () => {
    it('cuts 500 slow-header connections within a second of headersTimeoutMs while a scrape is still served', async () => {
      const s = await start({ addr: '127.0.0.1', port: 0, headersTimeoutMs: 1000 });
      closers.push(() => s.close());
      const slow = await Promise.all(Array.from({ length: 500 }, () => slowHeaders(s.socket.port)));
      const scrape = await get(s.url);
      expect(scrape.status).toBe(200);
      const held = await Promise.all(slow.map((c) => c.closedAfterMs));
      // Node checks every 500 ms for a 1 s timeout: cut between 1 s and 1.5 s (+ load slack).
      expect(Math.min(...held)).toBeGreaterThanOrEqual(900);
      expect(Math.max(...held)).toBeLessThan(2500);
      expect(slow.every((c) => c.got().startsWith('HTTP/1.1 408 Request Timeout'))).toBe(true);
    });

    it('closes a connection whose request body trickles, within a second of requestTimeoutMs at the latest', async () => {
      const s = await start({ addr: '127.0.0.1', port: 0, headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
      closers.push(() => s.close());
      const t0 = Date.now();
      const answer = await new Promise<string>((resolve) => {
        const c = connect({ host: '127.0.0.1', port: s.socket.port });
        let data = '';
        const timer = setInterval(() => c.write('x'), 200);
        c.on('data', (d: Buffer) => (data += d.toString('latin1')));
        c.on('error', () => undefined);
        c.on('close', () => {
          clearInterval(timer);
          resolve(data);
        });
        c.write('POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
      });
      const took = Date.now() - t0;
      // The server answers without reading the body (405 here); the connection is then cut.
      expect(answer).toMatch(/^HTTP\/1\.1 405 Method Not Allowed/);
      expect(took).toBeLessThan(2500);
    });

    it('refuses connections past maxConnections at once, logs it, and serves again once they are gone', async () => {
      const logger = recording();
      const s = await start({ addr: '127.0.0.1', port: 0, maxConnections: 3, logger });
      closers.push(() => s.close());
      const held = await Promise.all(Array.from({ length: 3 }, () => slowHeaders(s.socket.port)));
      // Node closes a connection past the limit as soon as it accepts it: no byte of an answer.
      const refusedConn = await new Promise<{ data: string; closedAfterMs: number }>((resolve) => {
        const c = connect({ host: '127.0.0.1', port: s.socket.port });
        const t0 = Date.now();
        let data = '';
        c.on('data', (d: Buffer) => (data += d.toString()));
        c.on('error', () => undefined);
        c.on('close', () => resolve({ data, closedAfterMs: Date.now() - t0 }));
        c.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      expect(refusedConn.data).toBe('');
      expect(refusedConn.closedAfterMs).toBeLessThan(500);
      await waitFor('the refusal logged', () => logger.lines.length > 0, 2000);
      expect(logger.lines).toEqual(['warn promsd: metrics server at maxConnections (3): refusing new connections']);
      for (const c of held) c.socket.destroy();
      await Promise.all(held.map((c) => c.closedAfterMs));
      await new Promise((r) => setTimeout(r, 100));
      expect((await get(s.url)).status).toBe(200);
    });

    it('answers an HTTP/1.0 request without a Host header', async () => {
      const s = await start({ addr: '127.0.0.1', port: 0 });
      closers.push(() => s.close());
      expect(await raw(s.socket.port, 'GET /healthz HTTP/1.0\r\n\r\n')).toMatch(
        /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/,
      );
      expect(await raw(s.socket.port, 'GET /metrics HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    });

    it('accepts the auth scheme in any case, and only the right credentials', async () => {
      const s = await start({ addr: '127.0.0.1', port: 0, auth: { token: 's3cret' } });
      closers.push(() => s.close());
      const status = async (authorization?: string) =>
        (await get(s.url, { headers: authorization === undefined ? {} : { authorization } })).status;
      expect(await status('Bearer s3cret')).toBe(200);
      expect(await status('bearer s3cret')).toBe(200);
      expect(await status('BEARER s3cret')).toBe(200);
      expect(await status('bearer S3CRET')).toBe(401);
      expect(await status('Basic s3cret')).toBe(401);
      expect(await status()).toBe(401);
    });

    it("serves this process's own metrics, marked, when the backend cannot be read, and logs the cause instead of showing it", async () => {
      const logger = recording();
      const backend = loadBackend(
        new RedisBackend({ url: 'redis://127.0.0.1:1', timeoutMs: 200, logger: recording() }),
      );
      closers.push(() => backend.close({ timeoutMs: 200 }));
      const hits = new Counter({ name: `edge_fallback_${name}_total`, help: 'Hits.' });
      closers.push(async () => register.removeSingleMetric(hits.name));
      hits.inc(3);
      const s = await start({ addr: '127.0.0.1', port: 0, logger });
      closers.push(() => s.close());
      const r = await get(s.url);
      expect(r.status).toBe(200);
      expect(r.headers['x-promsd-fallback']).toBe('local');
      const body = r.body.toString();
      expect(body).toContain(`edge_fallback_${name}_total 3`);
      expect(body).not.toContain('127.0.0.1:1');
      await waitFor('the cause logged', () => logger.lines.length > 0, 2000);
      expect(logger.lines[0]).toMatch(/^warn promsd: metrics collection failed: .*127\.0\.0\.1:1/);
    });

    it('names the plugin whose registration failed, and leaves nothing listening', async () => {
      class BrokenRegistry {
        async register(): Promise<null> {
          await fetch('http://127.0.0.1:1/register');
          return null;
        }
      }
      const port = await freePort();
      const err = await start({ addr: '127.0.0.1', port, serviceDiscovery: new BrokenRegistry() }).catch(
        (e: unknown) => e as Error,
      );
      expect((err as Error).message).toBe(
        'metrics server: service discovery plugin BrokenRegistry (serviceDiscovery) failed to register: TypeError: fetch failed',
      );
      expect(await refused(port)).toBe(true);
    });
  });
}

describe('configuration from the environment', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  for (const [name, start] of SERVERS) {
    it(`${name}() with no options listens where PROMSD_PORT, PROMSD_ADDR, PROMSD_PATH say, behind PROMSD_AUTH_TOKEN`, async () => {
      const port = await freePort();
      Object.assign(process.env, {
        PROMSD_PORT: String(port),
        PROMSD_ADDR: '127.0.0.1',
        PROMSD_PATH: '/custom',
        PROMSD_AUTH_TOKEN: 'env-token',
      });
      const s = await start(undefined);
      closers.push(() => s.close());
      expect(s.url).toBe(`http://127.0.0.1:${port}/custom`);
      expect((await get(s.url)).status).toBe(401);
      expect((await get(s.url, { headers: { authorization: 'bearer env-token' } })).status).toBe(200);
      // Options win over the environment.
      const other = await start({ port: 0, path: '/other' });
      closers.push(() => other.close());
      expect(other.socket.port).not.toBe(port);
      expect(other.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/other$/);
    });
  }

  it("refuses an empty token and a bad variable with the configuration's own messages", async () => {
    process.env.PROMSD_AUTH_TOKEN = '';
    process.env.PROMSD_PORT = 'abc';
    const err = await startHttpServer().catch((e: unknown) => e as ConfigError);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'server.port = "abc" (from env PROMSD_PORT): expected an integer from 0 to 65535',
      'server.authToken = "" (from env PROMSD_AUTH_TOKEN): expected a non-empty token',
    ]);
    delete process.env.PROMSD_PORT;
    delete process.env.PROMSD_AUTH_TOKEN;
    const empty = await startHttpServer({ auth: { token: '' } }).catch((e: unknown) => e as Error);
    expect(empty).toBeInstanceOf(InvalidOptionsError);
    expect((empty as Error).message).toBe(
      'metrics server: auth must be { token } with a non-empty token, or { username, password } with a username without ":", got "[object]"',
    );
  });
});

describe('failed scrapes', () => {
  it('show scrapers no cause: it goes to the log', async () => {
    const reg = new Registry();
    new Gauge({
      name: 'edge_broken',
      help: 'Broken.',
      registers: [reg],
      collect() {
        throw new Error('cannot reach db at 10.1.2.3:5432');
      },
    });
    const logger = recording();
    const s = await startHttpServer({ addr: '127.0.0.1', port: 0, registry: reg, logger });
    closers.push(() => s.close());
    const r = await get(s.url);
    expect([r.status, r.body.toString()]).toEqual([500, SCRAPE_FAILED_BODY]);
    expect(SCRAPE_FAILED_BODY).toBe('metrics collection failed; the cause is in the server log\n');
    expect(logger.lines).toEqual(['error promsd: metrics collection failed: cannot reach db at 10.1.2.3:5432']);
    // The same cause again within the minute is not logged again.
    await get(s.url);
    expect(logger.lines.length).toBe(1);
    // metricsRequestListener, in an app's own server, answers the same.
    const app = createServer(metricsRequestListener({ registry: reg }));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => app.close(r)));
    const port = (app.address() as { port: number }).port;
    const l = await get(`http://127.0.0.1:${port}/metrics`);
    expect([l.status, l.body.toString()]).toEqual([500, SCRAPE_FAILED_BODY]);
  });
});

describe('signals and stdout', () => {
  let agent: ConsulDouble;
  let dir: string;
  beforeAll(async () => {
    agent = await ConsulDouble.start();
  });
  afterAll(async () => {
    await agent.stop();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('handleSignals closes the whole server on SIGTERM — every plugin deregistered, the listener closed — then the signal ends the process', async () => {
    dir = mkdtempSync(join(tmpdir(), 'promsd-edge-'));
    const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'server-signal-child.cjs'), dir], {
      env: { ...process.env, CONSUL_HTTP_ADDR: agent.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    await waitFor('child registered', () => /registered \d+/.test(err), 10_000);
    const port = Number(/registered (\d+)/.exec(err)?.[1]);
    expect(agent.services.size).toBe(1);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json')).length).toBe(1);
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(agent.services.size).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(await refused(port)).toBe(true);
  });

  it('a library user with default logging gets nothing on stdout; PROMSD_LOG_LEVEL=info names the embedded aggregator on stderr', async () => {
    dir = mkdtempSync(join(tmpdir(), 'promsd-quiet-'));
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const sock = join(dir, `agg-${Object.keys(env).length}.sock`);
        const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'quiet-library-child.cjs'), sock], {
          env: { ...process.env, PROMSD_LOG_LEVEL: '', PROMSD_AGGREGATOR_SOCKET: '', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.once('exit', (code) => resolve({ code, out, err }));
      });
    const quiet = await run({});
    expect(quiet.code).toBe(0);
    expect(quiet.out).toBe('');
    // The unreachable Consul agent is a warning: on stderr.
    expect(quiet.err).toMatch(
      / warn {2}ConsulAgent: cannot reach the Consul agent at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/,
    );
    expect(quiet.err).not.toContain('connected to');
    const chatty = await run({ PROMSD_LOG_LEVEL: 'info' });
    expect(chatty.code).toBe(0);
    expect(chatty.out).toBe('');
    expect(chatty.err).toContain(`info  promsd: connected to the embedded aggregator at ${join(dir, 'agg-1.sock')}`);
    expect(chatty.err).not.toContain('Redis');
    expect(existsSync(join(dir, 'agg-1.sock'))).toBe(false);
  });
});
