import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Backend,
  BackendLoadedError,
  Counter,
  IoredisBackend,
  loadBackend,
  PROTOBUF_CONTENT_TYPE,
  RedisBackend,
  Registry,
  register,
  startHttpServerInThread,
} from '../index';
import { get } from './helpers/http';
import { unloadBackend as backendUnload } from '../backend/load';
import { native } from '../metrics/native';
import type * as NativeTypes from '../native/index';
import { requireBuild } from './helpers/build';

// The core's one answer to "does this scrape show the aggregate or this process's own series"
// (native/src/route_api.rs), through its napi surface, with JS backends registered by the test:
// the same registration loadBackend makes for IoredisBackend.

requireBuild();
const WORKER = join(__dirname, 'fixtures', 'global-render-worker.js');

const tokens: number[] = [];
afterEach(() => {
  for (const t of tokens.splice(0)) native.routeUnregister(t);
  register.clear();
});

type Render = (id: number, format: NativeTypes.ExpositionFormat, defaultLabels: string[]) => void;

function registerJs(render: Render, options: { protobuf?: boolean; timeoutMs?: number } = {}): number {
  const token = native.routeRegister('TestBackend', options.protobuf ?? false, options.timeoutMs ?? 2000, render);
  tokens.push(token);
  return token;
}

function request(
  o: Partial<Omit<NativeTypes.RouteRequest, 'format'>> & { format?: string } = {},
): NativeTypes.RouteRequest {
  return { registry: 0, defaultLabels: [], ...o, format: (o.format ?? 'text') as NativeTypes.ExpositionFormat };
}

/** Runs the fixture in a new worker thread (its own copy of promsd, from dist/): its first message, and its exit. */
function inWorker(workerData: Record<string, unknown>): {
  message: Promise<{ type: string; text?: string }>;
  exited: Promise<number>;
} {
  const w = new Worker(WORKER, { workerData });
  const exited = new Promise<number>((resolve) => w.once('exit', resolve));
  const message = new Promise<{ type: string; text?: string }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return { message, exited };
}

describe('where a scrape of the global registry comes from', () => {
  it('is the local store when no backend is open, byte for byte what encodeBuffer gives', async () => {
    const c = new Counter({ name: 'route_local_total', help: 'Local.' });
    c.inc(3);
    const r = await native.routeRender(request({ defaultLabels: ['service', 'shop'] }));
    expect(r.aggregate).toBe(false);
    expect(r.format).toBe('text');
    expect(r.fallback).toBeUndefined();
    expect(r.body.toString()).toBe(
      '# HELP route_local_total Local.\n# TYPE route_local_total counter\nroute_local_total{service="shop"} 3\n',
    );
    const direct = await native.encodeBuffer({ registry: 0, openMetrics: false, defaultLabels: ['service', 'shop'] });
    expect(r.body.equals(direct)).toBe(true);
  });

  it('is the registered JS backend, asked on its thread with the format and default labels', async () => {
    const calls: [string, string[]][] = [];
    registerJs((id, format, labels) => {
      calls.push([format, labels]);
      native.routeReply(id, Buffer.from('# TYPE agg counter\nagg_total 11\n'), null);
    });
    const r = await native.routeRender(request({ format: 'openmetrics', defaultLabels: ['service', 'shop'] }));
    expect(r.body.toString()).toBe('# TYPE agg counter\nagg_total 11\n');
    expect(r.aggregate).toBe(true);
    expect(r.format).toBe('openmetrics');
    expect(calls).toEqual([['openmetrics', ['service', 'shop']]]);
    // register.metrics() asks the same question.
    expect(await register.metrics()).toBe('# TYPE agg counter\nagg_total 11\n');
  });

  it('asks a text-only JS backend for OpenMetrics when protobuf is asked, and says so', async () => {
    const formats: string[] = [];
    const token = registerJs((id, format) => {
      formats.push(format);
      native.routeReply(id, Buffer.from('# EOF\n'), null);
    });
    expect(native.routeEncodesProtobuf(0)).toBe(false);
    const r = await native.routeRender(request({ format: 'protobuf' }));
    expect(r.format).toBe('openmetrics');
    expect(register.encodesProtobuf()).toBe(false);
    native.routeUnregister(token);
    registerJs(
      (id, format) => {
        formats.push(format);
        native.routeReply(id, Buffer.from([0x02, 0x0a, 0x00]), null);
      },
      { protobuf: true },
    );
    expect(native.routeEncodesProtobuf(0)).toBe(true);
    const pb = await native.routeRender(request({ format: 'protobuf' }));
    expect(pb.format).toBe('protobuf');
    expect([...pb.body]).toEqual([0x02, 0x0a, 0x00]);
    expect(formats).toEqual(['openmetrics', 'protobuf']);
  });

  it('leaves every other registry local while a JS backend aggregates the global one', async () => {
    const calls: number[] = [];
    registerJs((id) => {
      calls.push(id);
      native.routeReply(id, Buffer.from('agg 1\n'), null);
    });
    const reg = new Registry();
    const c = new Counter({ name: 'route_other_total', help: 'Other.', registers: [reg] });
    c.inc(4);
    expect(native.routeEncodesProtobuf(reg.id)).toBe(true);
    const r = await native.routeRender(request({ registry: reg.id }));
    expect(r.aggregate).toBe(false);
    expect(r.body.toString()).toContain('route_other_total 4\n');
    expect(await reg.metrics()).toContain('route_other_total 4\n');
    expect(calls).toEqual([]);
  });

  it("answers a worker thread's register.metrics() from the backend registered by this thread", async () => {
    registerJs((id) => native.routeReply(id, Buffer.from('# TYPE from_owner gauge\nfrom_owner 1\n'), null));
    const m = await inWorker({ name: 'route_worker_total', inc: 1 }).message;
    expect(m).toEqual({ type: 'text', text: '# TYPE from_owner gauge\nfrom_owner 1\n' });
  });

  it('bounds the wait for a JS backend: rejects naming it and the bound, or serves the local view with the cause', async () => {
    const ids: number[] = [];
    registerJs((id) => ids.push(id), { timeoutMs: 150 }); // never answers
    const c = new Counter({ name: 'route_slow_total', help: 'Slow.' });
    c.inc(2);
    const message =
      "promsd: TestBackend did not render within 150 ms on the thread that loaded it (its I/O runs on that thread's event loop)";
    const t0 = Date.now();
    await expect(native.routeRender(request())).rejects.toThrow(message);
    expect(Date.now() - t0).toBeLessThan(2000);
    const r = await native.routeRender(request({ fallback: true }));
    expect(r.aggregate).toBe(false);
    expect(r.fallback).toBe(message);
    expect(r.body.toString()).toContain('route_slow_total 2\n');
    // Answers after the scrape gave up, and answers to ids never issued, are dropped.
    for (const id of [...ids, 987654]) native.routeReply(id, Buffer.from('late 1\n'), null);
    expect(ids.length).toBe(2);
  });

  it("passes a failed render's error through, or serves the local view with it as the cause", async () => {
    registerJs((id) => native.routeReply(id, null, 'promsd: reading the aggregate from Redis failed: boom'));
    await expect(native.routeRender(request())).rejects.toThrow(
      'promsd: reading the aggregate from Redis failed: boom',
    );
    const r = await native.routeRender(request({ fallback: true, format: 'protobuf' }));
    expect(r.fallback).toBe('promsd: reading the aggregate from Redis failed: boom');
    // The store encodes every format: the fallback answers in the one asked for.
    expect(r.format).toBe('protobuf');
  });

  it('gzips what the backend answered, from 1 KiB', async () => {
    const big = `# TYPE big counter\n${Array.from({ length: 100 }, (_, i) => `big_total{i="${i}"} ${i}\n`).join('')}`;
    registerJs((id) => native.routeReply(id, Buffer.from(big), null));
    const r = await native.routeRender(request({ gzip: true }));
    expect([r.body[0], r.body[1]]).toEqual([0x1f, 0x8b]);
    const { gunzipSync } = await import('node:zlib');
    expect(gunzipSync(r.body).toString()).toBe(big);
  });

  it('holds one backend per process: a second registration, a JS or a core backend, is refused', async () => {
    registerJs((id) => native.routeReply(id, Buffer.from(''), null));
    expect(() => native.routeRegister('Another', false, 100, () => undefined)).toThrow(
      'promsd: a backend (TestBackend) is already loaded in this process (close it first)',
    );
    const twin = new IoredisBackend({ url: 'redis://127.0.0.1:1', logger: quietLogger });
    expect(() => loadBackend(twin)).toThrow(BackendLoadedError);
    expect(() => loadBackend(twin)).toThrow(
      'loadBackend: a backend (TestBackend) is already loaded in this process (close it first)',
    );
    expect(() => loadBackend(new RedisBackend({ url: 'redis://127.0.0.1:1', logger: quietLogger }))).toThrow(
      'promsd: a backend (TestBackend) is already loaded in this process (close it first)',
    );
    await twin.close();
  });

  it('fails the scrapes waiting for a backend at once when it is unregistered; a stale token leaves a newer one alone', async () => {
    const first = registerJs(() => undefined, { timeoutMs: 5000 });
    const t0 = Date.now();
    const waiting = native.routeRender(request());
    setTimeout(() => native.routeUnregister(first), 50);
    await expect(waiting).rejects.toThrow('promsd: the backend was closed during the scrape');
    expect(Date.now() - t0).toBeLessThan(2000);
    registerJs((id) => native.routeReply(id, Buffer.from('second 1\n'), null));
    native.routeUnregister(first);
    expect((await native.routeRender(request())).body.toString()).toBe('second 1\n');
  });

  it('forgets a JS backend whose thread ended, and then takes a new one', async () => {
    const w = inWorker({ backend: 'js' });
    expect((await w.message).type).toBe('loaded');
    // The worker ends on its own: the registration holds no reference on its event loop.
    expect(await w.exited).toBe(0);
    const c = new Counter({ name: 'route_after_total', help: 'After.' });
    c.inc(5);
    const r = await native.routeRender(request({ fallback: true }));
    expect(r.aggregate).toBe(false);
    expect(r.body.toString()).toContain('route_after_total 5\n');
    registerJs((id) => native.routeReply(id, Buffer.from('new 1\n'), null));
    expect((await native.routeRender(request())).body.toString()).toBe('new 1\n');
  });
});

describe('a JS backend loaded with loadBackend', () => {
  it('is asked, on the thread that loaded it, in the format a threaded server negotiated — protobuf too when it renders it', async () => {
    const asked: string[] = [];
    const pb = Buffer.from([0x02, 0x0a, 0x00]);
    const backend: Backend = {
      processId: 'js',
      start() {},
      flush: async () => undefined,
      render: async (o) => {
        asked.push(`${o.openMetrics ? 'openmetrics' : 'text'} ${o.defaultLabels.join(',')}`);
        return o.openMetrics ? '# TYPE js_up gauge\njs_up 1\n# EOF\n' : '# TYPE js_up gauge\njs_up 1\n';
      },
      renderProtobuf: async (o) => {
        asked.push(`protobuf ${o.defaultLabels.join(',')}`);
        return pb;
      },
      close: async () => backendUnload(backend),
    };
    loadBackend(backend);
    register.setDefaultLabels({ service: 'shop' });
    const server = await startHttpServerInThread({ addr: '127.0.0.1' });
    try {
      const text = await get(server.url);
      expect(text.body.toString()).toBe('# TYPE js_up gauge\njs_up 1\n');
      const proto = await get(server.url, { headers: { accept: PROTOBUF_CONTENT_TYPE } });
      expect(proto.headers['content-type']).toBe(PROTOBUF_CONTENT_TYPE);
      expect(proto.body.equals(pb)).toBe(true);
      expect(register.encodesProtobuf()).toBe(true);
      expect((await register.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE })).equals(pb)).toBe(true);
      expect(asked).toEqual(['text service,shop', 'protobuf service,shop', 'protobuf service,shop']);
    } finally {
      await server.close();
      await backend.close();
    }
    // Closed: the local view again.
    expect((await native.routeRender(request())).aggregate).toBe(false);
  });
});

describe('a JS backend that misbehaves', () => {
  function jsBackend(render: Backend['render'], extra: Partial<Backend> = {}): Backend {
    const b: Backend = {
      processId: 'bad',
      start() {},
      flush: async () => undefined,
      render,
      ...extra,
      close: async () => backendUnload(b),
    };
    return b;
  }

  it('fails the scrape with an error naming what it resolved with, and a server falls back to the local view, marked', async () => {
    const backend = loadBackend(jsBackend(async () => 42 as unknown as string));
    const c = new Counter({ name: 'route_bad_total', help: 'Bad.' });
    c.inc(7);
    try {
      await expect(register.metrics()).rejects.toThrow(
        "promsd: the JS backend's render() resolved with 42, not a string",
      );
      const lines: string[] = [];
      const server = await startHttpServerInThread({
        addr: '127.0.0.1',
        logger: { ...quietLogger, warn: (m) => lines.push(m) },
      });
      try {
        const r = await get(server.url);
        expect(r.status).toBe(200);
        expect(r.headers['x-promsd-fallback']).toBe('local');
        expect(r.body.toString()).toContain('route_bad_total 7\n');
        for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
        expect(lines).toEqual([
          "promsd: metrics collection failed: promsd: the JS backend's render() resolved with 42, not a string",
        ]);
      } finally {
        await server.close();
      }
    } finally {
      await backend.close();
    }
  });

  it('turns a render that throws, or a protobuf render that gives no Buffer, into the scrape error', async () => {
    const backend = loadBackend(
      jsBackend(
        () => {
          throw new Error('sync boom');
        },
        { renderProtobuf: async () => new Uint8Array([1]) as unknown as Buffer },
      ),
    );
    try {
      await expect(register.metrics()).rejects.toThrow('sync boom');
      await expect(register.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE })).rejects.toThrow(
        `promsd: the JS backend's renderProtobuf() resolved with {"0":1}, not a Buffer`,
      );
    } finally {
      await backend.close();
    }
    // Nothing stuck: the local view again.
    expect((await native.routeRender(request())).aggregate).toBe(false);
  });
});

const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };
