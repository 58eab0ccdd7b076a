import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Counter,
  InvalidOptionsError,
  metricsHandler,
  metricsRequestListener,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
  ServerStartError,
  startHttpServer,
} from '../index';
import { negotiateContentType } from '../server/app';
import type { MetricsHTTPServer, MetricsServerInfo, ServiceDiscovery } from '../index';
import { get, raw, refused } from './helpers/http';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const TEXT = '# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total{code="200"} 7\n';
const OPENMETRICS = '# HELP requests Requests.\n# TYPE requests counter\nrequests_total{code="200"} 7\n# EOF\n';

function registryWithCounter(): Registry {
  const registry = new Registry();
  const c = new Counter({ name: 'requests_total', help: 'Requests.', labelNames: ['code'], registers: [registry] });
  c.inc({ code: '200' }, 7);
  return registry;
}

const open: MetricsHTTPServer[] = [];
async function start(options: Parameters<typeof startHttpServer>[0] = {}): Promise<MetricsHTTPServer> {
  const s = await startHttpServer({ addr: '127.0.0.1', registry: registryWithCounter(), ...options });
  open.push(s);
  return s;
}
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()));
});

describe('startHttpServer', () => {
  it('binds an ephemeral port and reports socket, url and https', async () => {
    const s = await start();
    expect(s.socket.addr).toBe('127.0.0.1');
    expect(s.socket.port).toBeGreaterThan(0);
    expect(s.url).toBe(`http://127.0.0.1:${s.socket.port}/metrics`);
    expect(s.https).toBe(false);
    expect(s.isRegistered).toBe(false);
  });

  it('serves text 0.0.4 by default and OpenMetrics when Prometheus asks for it', async () => {
    const s = await start();
    const text = await get(s.url);
    expect(text.status).toBe(200);
    expect(text.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(text.body.toString()).toBe(TEXT);
    const om = await get(s.url, { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(om.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(om.body.toString()).toBe(OPENMETRICS);
    expect(om.headers.vary).toBe('Accept, Accept-Encoding');
  });

  it('negotiates by q-values', () => {
    expect(negotiateContentType(undefined)).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(negotiateContentType('text/plain')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(negotiateContentType('application/openmetrics-text')).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(negotiateContentType(PROMETHEUS_ACCEPT)).toBe(OPENMETRICS_CONTENT_TYPE);
    expect(negotiateContentType('text/plain;q=1, application/openmetrics-text;q=0.5')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(negotiateContentType('application/openmetrics-text;q=0, */*')).toBe(PROMETHEUS_CONTENT_TYPE);
  });

  it('gzips large expositions when the scraper accepts gzip, and only then', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'many_total', help: 'Many.', labelNames: ['i'], registers: [registry] });
    for (let i = 0; i < 200; i++) c.inc({ i: String(i) }, i);
    const s = await start({ registry });
    const expected = await registry.metrics();
    const zipped = await get(s.url, { headers: { 'accept-encoding': 'gzip, deflate' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(zipped.body.length).toBeLessThan(expected.length / 3);
    expect(gunzipSync(zipped.body).toString()).toBe(expected);
    const plain = await get(s.url);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(expected);
    const refusedGzip = await get(s.url, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    expect(refusedGzip.headers['content-encoding']).toBeUndefined();
    const off = await start({ registry, compression: false });
    expect(
      (await get(off.url, { headers: { 'accept-encoding': 'gzip' } })).headers['content-encoding'],
    ).toBeUndefined();
  });

  it('does not gzip tiny bodies (gzip would make them bigger)', async () => {
    const s = await start();
    const r = await get(s.url, { headers: { 'accept-encoding': 'gzip' } });
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.body.toString()).toBe(TEXT);
  });

  it('answers HEAD with the headers only, / with a page linking the metrics path, /healthz with 200', async () => {
    const s = await start({ path: '/prom' });
    const head = await get(s.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(TEXT)));
    expect(head.body.length).toBe(0);
    const root = await get(`http://127.0.0.1:${s.socket.port}/`);
    expect(root.status).toBe(200);
    expect(root.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(root.body.toString()).toContain('<a href="/prom">/prom</a>');
    const health = await get(`http://127.0.0.1:${s.socket.port}/healthz`);
    expect([health.status, health.body.toString()]).toEqual([200, 'ok\n']);
  });

  it('answers 404 elsewhere and 405 (with Allow) for other methods', async () => {
    const s = await start();
    const base = `http://127.0.0.1:${s.socket.port}`;
    expect((await get(`${base}/metricsx`)).status).toBe(404);
    expect((await get(`${base}/metrics/`)).status).toBe(404);
    expect((await get(`${base}/nope`, { method: 'POST' })).status).toBe(404);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await get(s.url, { method });
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
    }
  });

  it('answers malformed and oversized requests with 4xx and keeps serving', async () => {
    const s = await start();
    expect(await raw(s.socket.port, 'GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    const huge = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`;
    expect(await raw(s.socket.port, huge)).toMatch(/^HTTP\/1\.1 431 /);
    const long = `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`;
    expect(await raw(s.socket.port, long)).toMatch(/^HTTP\/1\.1 431 /);
    expect((await get(s.url)).body.toString()).toBe(TEXT);
  });

  it('checks a bearer token in constant time; health paths stay open', async () => {
    const s = await start({ auth: { token: 's3cret' } });
    const none = await get(s.url);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(none.body.toString()).not.toContain('requests_total');
    expect((await get(s.url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await get(s.url, { headers: { authorization: 'Bearer s3cret2' } })).status).toBe(401);
    const ok = await get(s.url, { headers: { authorization: 'Bearer s3cret' } });
    expect([ok.status, ok.body.toString()]).toEqual([200, TEXT]);
    expect((await get(`http://127.0.0.1:${s.socket.port}/healthz`)).status).toBe(200);
  });

  it('checks basic credentials', async () => {
    const s = await start({ auth: { username: 'prom', password: 'p:w' } });
    const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const none = await get(s.url);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="metrics", charset="UTF-8"');
    expect((await get(s.url, { headers: { authorization: basic('prom', 'nope') } })).status).toBe(401);
    expect((await get(s.url, { headers: { authorization: basic('other', 'p:w') } })).status).toBe(401);
    expect((await get(s.url, { headers: { authorization: basic('prom', 'p:w') } })).body.toString()).toBe(TEXT);
  });

  it('rejects bad options with an error naming the option and the value', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ port: 70000 }, 'metrics server: port must be an integer from 0 to 65535, got 70000'],
      [{ port: '9464' }, 'metrics server: port must be an integer from 0 to 65535, got "9464"'],
      [{ path: 'metrics' }, 'metrics server: path must be an absolute URL path such as "/metrics"'],
      [{ path: '/healthz' }, 'metrics server: path must be an absolute URL path'],
      [{ compression: 'yes' }, 'metrics server: compression must be true or false, got "yes"'],
      [{ auth: { token: '' } }, 'metrics server: auth must be'],
      [{ auth: { username: 'a:b', password: 'x' } }, 'metrics server: auth must be'],
      [{ tls: { key: 'k' } }, 'metrics server: tls.cert must be'],
      [{ prot: 1 }, 'metrics server: unknown option "prot" (known: port, addr,'],
    ];
    for (const [options, message] of cases) {
      const err = await startHttpServer(options as Parameters<typeof startHttpServer>[0]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidOptionsError);
      expect((err as Error).message).toContain(message);
    }
  });

  it('rejects with the address when the port is taken, leaving nothing open', async () => {
    const s = await start();
    const err = await startHttpServer({ addr: '127.0.0.1', port: s.socket.port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerStartError);
    expect((err as ServerStartError).code).toBe('EADDRINUSE');
    expect((err as Error).message).toContain(`cannot listen on 127.0.0.1:${s.socket.port}`);
  });

  it('puts IPv6 hosts in brackets', async () => {
    const s = await start({ addr: '::1' });
    expect(s.url).toBe(`http://[::1]:${s.socket.port}/metrics`);
    expect((await get(s.url)).body.toString()).toBe(TEXT);
  });
});

describe('service discovery and close()', () => {
  it('registers once bound and deregisters on close; closing twice is harmless', async () => {
    const seen: MetricsServerInfo[] = [];
    let deregistered = 0;
    const sd: ServiceDiscovery = {
      async register(info) {
        seen.push(info);
        return async () => {
          deregistered++;
        };
      },
    };
    const s = await start({ serviceDiscovery: sd, path: '/m' });
    expect(seen).toEqual([{ socket: s.socket, url: s.url, path: '/m', https: false, healthPath: '/healthz' }]);
    expect(s.isRegistered).toBe(true);
    await s.close();
    await s.close();
    expect(deregistered).toBe(1);
    expect(s.isRegistered).toBe(false);
    expect(await refused(s.socket.port)).toBe(true);
  });

  it('closes the listener even when deregistration throws, then reports the error', async () => {
    const boom = new Error('consul is gone');
    const sd: ServiceDiscovery = { register: async () => async () => Promise.reject(boom) };
    const s = await start({ serviceDiscovery: sd });
    await expect(s.close()).rejects.toBe(boom);
    expect(await refused(s.socket.port)).toBe(true);
    await expect(s.close()).rejects.toBe(boom);
  });

  it('runs every plugin; a failing registration undoes the others and closes the listener', async () => {
    const log: string[] = [];
    const ok = (name: string): ServiceDiscovery => ({
      register: async () => {
        log.push(`+${name}`);
        return async () => void log.push(`-${name}`);
      },
    });
    const failing: ServiceDiscovery = { register: async () => Promise.reject(new Error('ACL denied')) };
    const err = await startHttpServer({
      addr: '127.0.0.1',
      port: 0,
      serviceDiscovery: [ok('a'), ok('b'), failing],
    }).catch((e: unknown) => e);
    // The failure names the plugin: its place in the array (an object literal has no class name).
    expect((err as Error).message).toBe(
      'metrics server: service discovery plugin serviceDiscovery[2] failed to register: Error: ACL denied',
    );
    expect(((err as Error).cause as Error).message).toBe('ACL denied');
    expect([...log].sort()).toEqual(['+a', '+b', '-a', '-b']);
    const none: ServiceDiscovery = { register: async () => null };
    const s = await start({ serviceDiscovery: [ok('c'), none] });
    expect(s.isRegistered).toBe(true);
    await s.close();
    expect(log.slice(4)).toEqual(['+c', '-c']);
  });

  it('refuses a serviceDiscovery that is not a plugin', async () => {
    const one = await startHttpServer({ addr: '127.0.0.1', serviceDiscovery: {} as ServiceDiscovery }).catch(
      (e: unknown) => e,
    );
    expect((one as Error).message).toBe(
      'metrics server: serviceDiscovery must be a plugin with register(server), or an array of them, got {}',
    );
    const many = await startHttpServer({ addr: '127.0.0.1', serviceDiscovery: [{} as ServiceDiscovery] }).catch(
      (e: unknown) => e,
    );
    expect((many as Error).message).toBe(
      'combineServiceDiscovery: plugins[0] must have a register(server) method, got {}',
    );
  });

  it('reports the plugins own isRegistered', async () => {
    const sd = { isRegistered: false, register: async () => async () => undefined };
    const s = await start({ serviceDiscovery: sd });
    expect(s.isRegistered).toBe(false);
    sd.isRegistered = true;
    expect(s.isRegistered).toBe(true);
  });

  it('serves HTTP SD at /sd when given a source', async () => {
    const groups = [{ targets: ['10.0.0.1:9464'], labels: { __metrics_path__: '/metrics' } }];
    const s = await start({ httpSd: { list: async () => groups } });
    const r = await get(`http://127.0.0.1:${s.socket.port}/sd`);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body.toString())).toEqual(groups);
  });
});

describe('TLS', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'promsd-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves HTTPS with a self-signed certificate, from PEM or from files', async () => {
    const s = await start({ tls: { key, cert } });
    expect(s.https).toBe(true);
    expect(s.url).toBe(`https://127.0.0.1:${s.socket.port}/metrics`);
    expect((await get(s.url, { ca: cert })).body.toString()).toBe(TEXT);
    await expect(get(s.url)).rejects.toThrow(/self-signed|self signed/);
    const f = await start({ tls: { keyFile: join(dir, 'key.pem'), certFile: join(dir, 'cert.pem') } });
    expect((await get(f.url, { ca: cert })).status).toBe(200);
  });

  it('rejects unreadable or invalid TLS material', async () => {
    const missing = await startHttpServer({ addr: '127.0.0.1', tls: { keyFile: join(dir, 'nope.pem'), cert } }).catch(
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(ServerStartError);
    expect((missing as ServerStartError).code).toBe('ENOENT');
    expect((missing as Error).message).toContain('cannot read tls.keyFile');
    const garbage = await startHttpServer({ addr: '127.0.0.1', tls: { key: 'not a key', cert } }).catch(
      (e: unknown) => e,
    );
    expect(garbage).toBeInstanceOf(ServerStartError);
    expect((garbage as Error).message).toContain('cannot start HTTPS');
  });
});

describe('handlers for users’ own apps', () => {
  it('metricsHandler serves a registry from a Hono app, negotiating per request', async () => {
    const app = new Hono();
    app.get('/metrics', metricsHandler({ registry: registryWithCounter() }));
    const text = await app.request('/metrics');
    expect(text.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(await text.text()).toBe(TEXT);
    const om = await app.request('/metrics', { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(await om.text()).toBe(OPENMETRICS);
  });

  it('metricsRequestListener serves a registry from a plain node:http server', async () => {
    const server = createServer(metricsRequestListener({ registry: registryWithCounter() }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const r = await get(`http://127.0.0.1:${port}/`, { headers: { accept: PROMETHEUS_ACCEPT } });
      expect(r.headers['content-type']).toBe(OPENMETRICS_CONTENT_TYPE);
      expect(r.body.toString()).toBe(OPENMETRICS);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
