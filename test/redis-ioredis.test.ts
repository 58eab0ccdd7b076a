import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  BackendConfigError,
  Counter,
  Gauge,
  IoredisBackend,
  Registry,
  Summary,
  loadBackend,
  register,
  renderRedis,
} from '../index';
import { getBackend } from '../backend/load';
import { native } from '../metrics/native';
import { readThrough } from './helpers/reader';
import { REDIS_SERVER, RedisServer, freePort, redisCommand, startRedis, until } from './helpers/redis';

// The ioredis twin (IoredisBackend) against the Rust RedisBackend on one Redis. Both run the
// core's writer (the twin through ProtocolWriter), so what is tested here is the twin's I/O:
// the same series and exact totals through ioredis, the protocol's guarantees (retried batches,
// restarts, liveness, close) kept over its connection, pipelines, cluster and logging.
// Children run the build (dist/).

const CHILD = join(__dirname, 'fixtures', 'redis-ioredis-child.js');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  client.on('error', () => undefined); // reconnects by itself after the restart test
});
afterAll(async () => {
  client.disconnect();
  await redis.kill();
});
afterEach(async () => {
  await getBackend()?.close();
  register.clear();
});

interface Child {
  proc: ChildProcess;
  exited: Promise<number | string>;
  /** The next message of `type` (or the first one already received). */
  next(type: string): Promise<Record<string, unknown>>;
  render(openMetrics?: boolean): Promise<string>;
}

function child(plan: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(plan)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  proc.on('message', (m: Record<string, unknown>) => {
    const w = waiters.find((x) => x.type === m.type);
    if (w) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    } else inbox.push(m);
  });
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const next = (type: string): Promise<Record<string, unknown>> => {
    const i = inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      waiters.push({ type, resolve });
      void exited.then((code) => reject(new Error(`child exited (${code}) before sending "${type}"`)));
    });
  };
  return {
    proc,
    exited,
    next,
    render: async (openMetrics = false) => {
      proc.send({ type: 'render', openMetrics });
      return String((await next('rendered')).text);
    },
  };
}

function line(text: string, prefix: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(prefix));
}

const METRICS = [
  {
    type: 'counter',
    config: { name: 'tw_requests_total', help: 'Requests "served".\\', labelNames: ['route', 'code'] },
  },
  {
    type: 'histogram',
    config: { name: 'tw_latency_seconds', help: 'Latency.', labelNames: ['route'], buckets: [0.1, 1, 10] },
  },
  { type: 'summary', config: { name: 'tw_size_bytes', help: 'Sizes.', percentiles: [0.5, 0.9, 0.99] } },
  {
    type: 'summary',
    config: {
      name: 'tw_window_seconds',
      help: 'Windowed.',
      percentiles: [0.25, 0.5],
      maxAgeSeconds: 60,
      ageBuckets: 2,
    },
  },
  { type: 'gauge', config: { name: 'tw_inflight', help: 'Sum.' } },
  { type: 'gauge', config: { name: 'tw_peak', help: 'Max.', aggregator: 'max' } },
  { type: 'gauge', config: { name: 'tw_per', help: 'Per process.', labelNames: ['pool'], aggregator: 'perProcess' } },
];

describe('IoredisBackend with RedisBackend on one Redis', () => {
  it('aggregates counters, histograms, summaries and gauges of both into the same series, rendered byte-identically', async () => {
    const native = child({
      backend: 'native',
      url: redis.url,
      prefix: 'interop',
      processLabel: 'native',
      metrics: METRICS,
      then: 'stay',
      steps: [
        { metric: 0, method: 'inc', labels: { route: '/a', code: '200' }, times: 100 },
        { metric: 0, method: 'inc', labels: { route: 'x"y\n\\z', code: '500' }, value: 2.5, times: 3 },
        { metric: 1, method: 'observe', labels: { route: '/a' }, value: 0.05, times: 10 },
        { metric: 1, method: 'observe', labels: { route: '/a' }, value: 50, times: 2 },
        ...Array.from({ length: 500 }, (_, k) => ({ metric: 2, method: 'observe', value: k + 1 })),
        ...Array.from({ length: 10 }, (_, k) => ({ metric: 3, method: 'observe', value: k + 1 })),
        { metric: 4, method: 'set', value: 3 },
        { metric: 5, method: 'set', value: 5 },
        { metric: 6, method: 'set', labels: { pool: 'db' }, value: 1.5 },
      ],
    });
    const twin = child({
      backend: 'ioredis',
      url: redis.url,
      prefix: 'interop',
      processLabel: 'twin',
      metrics: METRICS,
      then: 'stay',
      steps: [
        { metric: 0, method: 'inc', labels: { route: '/a', code: '200' }, times: 250 },
        { metric: 0, method: 'inc', labels: { route: 'x"y\n\\z', code: '500' }, value: 2.5, times: 1 },
        { metric: 0, method: 'inc', labels: { route: 'ü/b', code: '200' }, times: 7 },
        { metric: 1, method: 'observe', labels: { route: '/a' }, value: 0.5, times: 4 },
        { metric: 1, method: 'observe', labels: { route: '/a' }, value: 5, times: 1 },
        ...Array.from({ length: 500 }, (_, k) => ({ metric: 2, method: 'observe', value: 501 + k })),
        ...Array.from({ length: 10 }, (_, k) => ({ metric: 3, method: 'observe', value: 11 + k })),
        { metric: 4, method: 'set', value: 4 },
        { metric: 5, method: 'set', value: 9 },
        { metric: 6, method: 'set', labels: { pool: 'db' }, value: 2 },
      ],
    });
    const [, twinReady] = await Promise.all([native.next('ready'), twin.next('ready')]);

    const sidecar = await renderRedis({ url: redis.url, prefix: 'interop' });
    const fromNative = await native.render();
    const fromTwin = await twin.render();
    expect(fromTwin).toBe(fromNative);
    expect(fromTwin).toBe(sidecar);
    const omNative = await native.render(true);
    expect(await twin.render(true)).toBe(omNative);
    expect(omNative).toContain('tw_requests_total{route="/a",code="200"} 350\n');

    // Exact totals: one series per label set, both processes' contributions in it.
    expect(fromTwin).toContain(
      '# HELP tw_requests_total Requests "served".\\\\\n# TYPE tw_requests_total counter\n' +
        'tw_requests_total{route="/a",code="200"} 350\n' +
        'tw_requests_total{route="x\\"y\\n\\\\z",code="500"} 10\n' +
        'tw_requests_total{route="ü/b",code="200"} 7\n',
    );
    expect(fromTwin).toContain(
      [
        'tw_latency_seconds_bucket{le="0.1",route="/a"} 10',
        'tw_latency_seconds_bucket{le="1",route="/a"} 14',
        'tw_latency_seconds_bucket{le="10",route="/a"} 15',
        'tw_latency_seconds_bucket{le="+Inf",route="/a"} 17',
        'tw_latency_seconds_sum{route="/a"} 107.5',
        'tw_latency_seconds_count{route="/a"} 17',
      ].join('\n'),
    );
    expect(fromTwin).toContain('tw_inflight 7\n');
    expect(fromTwin).toContain('tw_peak 9\n');
    expect(fromTwin).toContain('tw_per{pool="db",process="native"} 1.5\ntw_per{pool="db",process="twin"} 2\n');
    // The merged sketches equal one sketch of all the values.
    const local = new Registry();
    const all = new Summary({
      name: 'tw_size_bytes',
      help: 'Sizes.',
      percentiles: [0.5, 0.9, 0.99],
      registers: [local],
    });
    for (let v = 1; v <= 1000; v++) all.observe(v);
    const win = new Summary({
      name: 'tw_window_seconds',
      help: 'Windowed.',
      percentiles: [0.25, 0.5],
      maxAgeSeconds: 60,
      ageBuckets: 2,
      registers: [local],
    });
    for (let v = 1; v <= 20; v++) win.observe(v);
    const want = (await local.metrics())
      .split('\n')
      .filter((l) => l.startsWith('tw_size') || l.startsWith('tw_window'));
    expect(fromTwin.split('\n').filter((l) => l.startsWith('tw_size') || l.startsWith('tw_window'))).toEqual(want);
    expect(want).toContain('tw_size_bytes_count 1000');
    expect(want).toContain('tw_window_seconds_sum 210');

    // The twin writes the protocol's process info.
    const info = JSON.parse((await client.hget(`promsd:{interop}:g:${String(twinReady.id)}`, '@')) as string);
    expect(info).toMatchObject({ v: 1, label: 'twin', lib: 'promsd-ioredis 0.1.0', pid: twin.proc.pid });

    for (const c of [native, twin]) c.proc.send('exit');
    expect(await Promise.all([native.exited, twin.exited])).toEqual([0, 0]);
    // Closed: gauges gone at once, counters stay.
    const after = await renderRedis({ url: redis.url, prefix: 'interop' });
    expect(after).not.toMatch(/^tw_inflight /m);
    expect(after).toContain('tw_requests_total{route="/a",code="200"} 350\n');
  });

  it('loses and doubles nothing when redis-server is killed and restarted mid-increments', async () => {
    const counter = { type: 'counter', config: { name: 'tw_ops_total', help: 'Ops.', labelNames: ['kind'] } };
    const sustain = { metric: 0, labels: { kind: 'w' }, total: 7 * 400, perTick: 7, everyMs: 4 };
    const total = async (): Promise<number> =>
      Number(/tw_ops_total\{kind="w"\} (\S+)/.exec(await renderRedis({ url: redis.url, prefix: 'restart' }))?.[1] ?? 0);
    const kids = ['native', 'ioredis', 'native', 'ioredis'].map((backend) =>
      child({ backend, url: redis.url, prefix: 'restart', metrics: [counter], sustain, flushIntervalMs: 50 }),
    );
    await Promise.all(kids.map((c) => c.next('ready')));
    await until('some increments in Redis', async () => (await total()) > 0);
    await redis.kill();
    await sleep(700);
    await redis.start(); // empty: no persistence
    const done = await Promise.all(kids.map((c) => c.next('done')));
    expect(done.map((d) => d.sent)).toEqual([2800, 2800, 2800, 2800]);
    expect(await Promise.all(kids.map((c) => c.exited))).toEqual([0, 0, 0, 0]);
    expect(await total()).toBe(4 * 2800);
  });

  it("counts a SIGKILLed twin's gauges only until its heartbeat expires, and its counters forever", async () => {
    const metrics = [
      { type: 'gauge', config: { name: 'tw_live', help: 'Live.' } },
      { type: 'counter', config: { name: 'tw_done_total', help: 'Done.' } },
    ];
    const native = child({
      backend: 'native',
      url: redis.url,
      prefix: 'live',
      metrics,
      then: 'stay',
      flushIntervalMs: 100,
      processTtlMs: 600,
      steps: [
        { metric: 0, method: 'set', value: 2 },
        { metric: 1, method: 'inc', value: 1 },
      ],
    });
    const twin = child({
      backend: 'ioredis',
      url: redis.url,
      prefix: 'live',
      metrics,
      then: 'stay',
      flushIntervalMs: 100,
      processTtlMs: 600,
      steps: [
        { metric: 0, method: 'set', value: 5 },
        { metric: 1, method: 'inc', value: 3 },
      ],
    });
    await Promise.all([native.next('ready'), twin.next('ready')]);
    const text = (): Promise<string> => renderRedis({ url: redis.url, prefix: 'live' });
    expect(line(await text(), 'tw_live ')).toBe('tw_live 7');
    twin.proc.kill('SIGKILL');
    expect(await twin.exited).toBe('SIGKILL');
    const killed = Date.now();
    await until('the twin drops out', async () => line(await text(), 'tw_live ') === 'tw_live 2', 5000);
    const gone = Date.now() - killed;
    expect(gone).toBeLessThan(600 + 1000);
    expect(line(await text(), 'tw_done_total ')).toBe('tw_done_total 4');
    // The native process's flushes remove the dead member; the twin's bookkeeping goes on expiry.
    await until('heartbeat removed', async () => (await client.zcard('promsd:{live}:procs')) === 1);
    native.proc.send('exit');
    expect(await native.exited).toBe(0);
  });

  it('exits on its own when a process ends without close(), after sending its last values', async () => {
    const kid = child({
      backend: 'ioredis',
      url: redis.url,
      prefix: 'atexit',
      flushIntervalMs: 60_000,
      processTtlMs: 120_000,
      then: 'end',
      metrics: [{ type: 'counter', config: { name: 'tw_exit_total', help: 'E.' } }],
      steps: [{ metric: 0, method: 'inc', times: 9 }],
      sustain: { metric: 0, total: 5, perTick: 1, everyMs: 1 },
    });
    const t0 = Date.now();
    expect(await kid.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await renderRedis({ url: redis.url, prefix: 'atexit' })).toContain('tw_exit_total 14\n');
    expect(await client.zcard('promsd:{atexit}:procs')).toBe(0);
  });

  it('closes cleanly: gauges removed at once, connection released, the process exits', async () => {
    const kid = child({
      backend: 'ioredis',
      url: redis.url,
      prefix: 'close',
      flushIntervalMs: 60_000,
      processTtlMs: 120_000,
      metrics: [{ type: 'gauge', config: { name: 'tw_g', help: 'G.' } }],
      steps: [{ metric: 0, method: 'set', value: 1 }],
    });
    const closed = await kid.next('closed');
    expect(await kid.exited).toBe(0);
    expect(Number(closed.closeMs)).toBeLessThan(1000);
    expect(await client.keys('promsd:{close}:g:*')).toEqual([]);
    expect(await client.exists('promsd:{close}:meta')).toBe(1);
  });
});

describe('IoredisBackend on Redis Cluster', () => {
  it('aggregates with RedisBackend on a three-node cluster (the prefix hash tag keeps each script in one slot)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'promsd-cluster-'));
    const ports: number[] = [];
    while (ports.length < 3) {
      const p = await freePort();
      if (p < 55_000 && !ports.includes(p)) ports.push(p); // the cluster bus uses port + 10000
    }
    const nodes = ports.map((port) =>
      spawn(
        REDIS_SERVER,
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      ),
    );
    try {
      for (const port of ports) {
        await until(`node ${port}`, () =>
          redisCommand(port, 'PING').then(
            (r) => r.startsWith('+PONG'),
            () => false,
          ),
        );
      }
      await promisify(execFile)('/usr/bin/redis-cli', [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      const urls = ports.map((p) => `redis://127.0.0.1:${p}`);
      const probe = new Redis(ports[0], '127.0.0.1');
      await until('cluster ok', async () => String(await probe.call('CLUSTER', 'INFO')).includes('cluster_state:ok'));
      probe.disconnect();
      const metrics = [
        { type: 'counter', config: { name: 'cl_jobs_total', help: 'Jobs.', labelNames: ['q'] } },
        { type: 'gauge', config: { name: 'cl_busy', help: 'Busy.' } },
      ];
      const kids = (['native', 'ioredis'] as const).map((backend, i) =>
        child({
          backend,
          url: urls.slice(i, i + 2),
          cluster: true,
          prefix: 'clu',
          metrics,
          then: 'stay',
          steps: [
            { metric: 0, method: 'inc', labels: { q: 'a' }, times: 10 * (i + 1) },
            { metric: 1, method: 'set', value: i + 1 },
          ],
        }),
      );
      await Promise.all(kids.map((k) => k.next('ready')));
      const [a, b] = await Promise.all(kids.map((k) => k.render()));
      expect(b).toBe(a);
      expect(a).toBe(
        '# HELP cl_busy Busy.\n# TYPE cl_busy gauge\ncl_busy 3\n\n# HELP cl_jobs_total Jobs.\n# TYPE cl_jobs_total counter\ncl_jobs_total{q="a"} 30\n',
      );
      for (const k of kids) k.proc.send('exit');
      expect(await Promise.all(kids.map((k) => k.exited))).toEqual([0, 0]);
    } finally {
      for (const n of nodes) n.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('IoredisBackend in this process', () => {
  it("applies the core writer's calls once: the same batch twice changes nothing, a lost reply is covered by the next", async () => {
    const w = new native.ProtocolWriter({
      prefix: 'retry',
      processLabel: 'me',
      host: 'h',
      lib: 'test',
      liveMs: 5000,
      retainMs: 60_000,
    });
    expect(w.processId).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.parse(w.info)).toMatchObject({ v: 1, label: 'me', host: 'h', lib: 'test', pid: process.pid });
    const c = new Counter({ name: 'rt_total', help: 'R.', labelNames: ['x'] });
    const send = (call: string[]) => client.call('EVALSHA', ...call) as Promise<[string, string, number]>;
    const totalOf = () => client.hget('promsd:{retry}:c', 'rt_total||a\\"b');
    await client.script('LOAD', native.protocolScripts().apply.source);
    c.inc({ x: 'a"b' }, 5);
    w.update();
    const [call] = w.batch();
    expect(call.slice(0, 8)).toEqual([
      native.protocolScripts().apply.sha,
      '6',
      ...['epoch', 'c', 'meta', 'procs', `a:${w.processId}`, `g:${w.processId}`].map((k) => `promsd:{retry}:${k}`),
    ]);
    const r1 = await send(call);
    expect(await send(call)).toEqual([r1[0], r1[1], expect.any(Number), []]); // retried after, say, a timeout
    expect(r1[0]).toBe('ok');
    expect(await totalOf()).toBe('5');
    expect(w.onReplies([r1])).toEqual({ next: 'done', refused: [], accepted: [], refusedFamilies: 0 });
    expect(w.epoch).toBe(r1[1]);
    c.inc({ x: 'a"b' }, 3);
    w.update();
    await send(w.batch()[0]); // applied, reply lost: the writer does not know
    w.onReplies([]);
    c.inc({ x: 'a"b' }, 4);
    w.update();
    const again = w.batch()[0];
    expect(again.slice(8, 19)).toEqual([
      w.processId,
      r1[1],
      expect.stringMatching(/^[0-9a-f]{32}$/),
      'n',
      '5000',
      '60000',
      w.info,
      '1',
      '0',
      '0',
      '0',
    ]);
    expect(again.slice(19)).toEqual(['rt_total||a\\"b', '12']);
    await send(again);
    expect(w.onReplies([await send(again)])).toEqual({ next: 'done', refused: [], accepted: [], refusedFamilies: 0 });
    expect(await totalOf()).toBe('12');
    // Anything but the apply script's reply is refused, and nothing of it is recorded.
    c.inc({ x: 'a"b' }, 1);
    w.update();
    w.batch();
    expect(w.onReplies(['OK'])).toEqual({ next: 'done', unexpected: 0, refused: [], accepted: [], refusedFamilies: 0 });
    expect(w.batch()[0].slice(19)).toEqual(['rt_total||a\\"b', '13']);
    expect(w.onReplies([['nope', 'x']])).toEqual({
      next: 'done',
      unexpected: 0,
      refused: [],
      accepted: [],
      refusedFamilies: 0,
    });
    expect(() => w.onReplies([])).toThrow('promsd: onReplies() without a batch()');
    expect(w.goodbye()).toEqual([
      ['ZREM', 'promsd:{retry}:procs', w.processId],
      ['DEL', `promsd:{retry}:g:${w.processId}`, `promsd:{retry}:m:${w.processId}`],
    ]);
  });

  it('renders crafted Redis data identically through both read protocols and both transports', async () => {
    const p = 'promsd:{parity}:';
    const far = Date.now() + 1e9;
    const ids = ['a', 'b', 'c', 'd'].map((x) => x.repeat(32));
    const metas: Record<string, object | string> = {
      c_total: { v: 1, type: 'counter', help: 'C \\ "q"\nnext', labelNames: ['a', 'b'], aggregator: 'sum' },
      empty_total: { v: 1, type: 'counter', help: 'Nothing.', labelNames: [], aggregator: 'sum' },
      h: { v: 1, type: 'histogram', help: 'H.', labelNames: [], aggregator: 'sum', buckets: [1e-7, 0.005, 1, 1e21] },
      s: {
        v: 1,
        type: 'summary',
        help: 'S.',
        labelNames: [],
        aggregator: 'sum',
        quantiles: [0, 0.5, 0.999, 1],
        maxAgeSeconds: null,
        ageBuckets: 1,
      },
      sw: {
        v: 1,
        type: 'summary',
        help: 'SW.',
        labelNames: [],
        aggregator: 'sum',
        quantiles: [0.1, 0.9],
        maxAgeSeconds: 10,
        ageBuckets: 2,
      },
      bad: { v: 2, type: 'counter', help: 'B.', labelNames: [], aggregator: 'sum' },
      junk: 'not json',
      g_per: { v: 1, type: 'gauge', help: 'P.', labelNames: ['k'], aggregator: 'perProcess' },
    };
    for (const a of ['sum', 'min', 'max', 'average', 'last', 'first', 'omit', 'nonsense']) {
      metas[`g_${a}`] = { v: 1, type: 'gauge', help: `G ${a}.`, labelNames: [], aggregator: a, extra: [1] };
    }
    const totals: Record<string, string> = {
      'c_total||x\ny': '7',
      'c_total||ü\nz': '1.0000000000000001e+21',
      'c_total||\\"q\n': '0.30000000000000004',
      'c_total||x\n\u{e000}': '2',
      'c_total||x\n\u{1f600}': '3',
      'c_total||onlyone': '9',
      'c_total||x\nbad': 'abc',
      'h|b0|': '1',
      'h|b2|': '3',
      'h|b4|': '2',
      'h|b9|': '5',
      'h|sum|': '1e-9',
      's|count|': '10',
      's|sum|': '-3.5',
      's|p5|': '3',
      's|n-2|': '2',
      's|z|': '4',
      's|p+7|': '1',
      's|q1|': '1',
      'nometa||': '5',
      'bad||': '1',
    };
    const gauges: Record<string, string>[] = [
      {
        '@': '{"label":"h:1","started":5}',
        'g_sum||': '1 100',
        'g_min||': 'NaN 100',
        'g_max||': '-Inf 100',
        'g_average||': '2 100',
        'g_last||': '10 200',
        'g_first||': '11 100',
        'g_omit||': '3 100',
        'g_per||k1': '1e-7 100',
        'sw|p10|': '2',
        'sw|z|': '1',
        'g_nonsense||': '4 1',
      },
      {
        '@': '{"label":"h:1","started":5}',
        'g_sum||': '2.5 100',
        'g_min||': '4 100',
        'g_max||': '1e300 100',
        'g_average||': '3 100',
        'g_last||': '20 200',
        'g_first||': '12 100',
        'g_omit||': '4 100',
        'g_per||k1': '2 100',
        'g_per||k\\"2': '5 1',
        'sw|p10|': '3',
        'sw|n3|': '1',
      },
      {
        '@': 'nope',
        'g_last||': '30 150',
        'g_first||': '13 100',
        'g_per||k1': '-0 100',
        'g_sum||': 'garbage',
        'g_min||': '-5',
      },
      { '@': '{"label":"dead","started":1}', 'g_sum||': '100 1' },
    ];
    const m = client.multi();
    for (const [n, j] of Object.entries(metas)) m.hset(`${p}meta`, n, typeof j === 'string' ? j : JSON.stringify(j));
    for (const [f, v] of Object.entries(totals)) m.hset(`${p}c`, f, v);
    ids.forEach((id, i) => {
      m.zadd(`${p}procs`, i === 3 ? 1 : far, id);
      for (const [f, v] of Object.entries(gauges[i])) m.hset(`${p}g:${id}`, f, v);
    });
    await m.exec();
    const defaults = ['env', 'p"ro\\d', 'le', 'x', 'k', 'dflt', 'quantile', 'q'];
    const rust = await renderRedis({ url: redis.url, prefix: 'parity' });
    const rustOm = await renderRedis({
      url: redis.url,
      prefix: 'parity',
      openMetrics: true,
      defaultLabels: { env: 'p"ro\\d', le: 'x', k: 'dflt', quantile: 'q' },
    });
    // redis-rs and ioredis transports, v1 script and v2 HGETALLs: one reader, the same bytes.
    for (const protocol of [1, 2] as const) {
      expect((await readThrough(client, 'parity', protocol)).toString()).toBe(rust);
      const om = await readThrough(client, 'parity', protocol, { openMetrics: true, defaultLabels: defaults });
      expect(om.toString()).toBe(rustOm);
    }
    // Spot checks that the comparison covers what it should.
    expect(rust).toContain('c_total{a="x",b="\u{e000}"} 2\nc_total{a="x",b="\u{1f600}"} 3\n');
    expect(rust).toContain('g_per{k="k1",process="h:1"} 1e-7\ng_per{k="k1",process="h:1#bbbbbbbb"} 2\n');
    expect(rust).toContain('h_bucket{le="1e+21"} 4\nh_bucket{le="+Inf"} 6\n');
    expect(rust).toContain('g_last 20\n');
    expect(rust).toContain('g_first 13\n');
    expect(rust).toContain('g_sum 3.5\n');
    // One process's NaN wins, as in prom-client's Math.min.
    expect(rust).toContain('g_min NaN\n');
    expect(rust).toContain('g_max 1e+300\n');
    expect(rust).not.toMatch(/^g_omit /m);
    expect(rust).toContain('# HELP empty_total Nothing.\n# TYPE empty_total counter\n\n');
  });

  it('recovers from a wiped Redis (epoch) and from expired bookkeeping (lost) with exact totals', async () => {
    const logs: string[] = [];
    const log = (m: string) => logs.push(m);
    const backend = loadBackend(
      new IoredisBackend({
        url: redis.url,
        prefix: 'recover',
        flushIntervalMs: 60_000,
        processTtlMs: 120_000,
        logger: { debug: log, info: log, warn: log, error: log },
      }),
    );
    const c = new Counter({ name: 'tw_rec_total', help: 'R.', labelNames: ['k'] });
    const g = new Gauge({ name: 'tw_rec_g', help: 'G.' });
    c.inc({ k: 'a' }, 5);
    g.set(3);
    await backend.flush();
    expect(await client.hget('promsd:{recover}:c', 'tw_rec_total||a')).toBe('5');
    await client.flushall(); // what a restart without persistence does
    c.inc({ k: 'a' }, 2);
    await backend.flush();
    expect(await client.hget('promsd:{recover}:c', 'tw_rec_total||a')).toBe('7');
    expect(logs).toContain("promsd: Redis lost this process's data (restart or expiry); resending all series");
    await client.del(`promsd:{recover}:a:${String(backend.processId)}`); // a long partition
    c.inc({ k: 'a' }, 1);
    expect(await register.metrics()).toBe(
      '# HELP tw_rec_g G.\n# TYPE tw_rec_g gauge\ntw_rec_g 3\n\n# HELP tw_rec_total R.\n# TYPE tw_rec_total counter\ntw_rec_total{k="a"} 8\n',
    );
    c.reset(); // a local restart of the series never subtracts from the totals
    c.inc({ k: 'a' }, 4);
    await backend.flush();
    await backend.flush(); // nothing changed: nothing applied twice
    expect(await client.hget('promsd:{recover}:c', 'tw_rec_total||a')).toBe('12');
    expect(logs[0]).toBe(`promsd: connected to Redis at ${redis.url} (prefix "recover")`);
  });

  it('keeps values while Redis is down and logs the outage as a handful of lines', async () => {
    const down = new RedisServer(await freePort());
    const lines: string[] = [];
    const log = (level: string) => (m: string) => lines.push(`${level} ${m}`);
    const backend = loadBackend(
      new IoredisBackend({
        url: down.url,
        prefix: 'storm',
        flushIntervalMs: 20,
        timeoutMs: 100,
        logThrottleMs: 1000,
        logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
      }),
    );
    const c = new Counter({ name: 'tw_storm_total', help: 'S.' });
    c.inc(3);
    await sleep(2500); // ~120 failed flushes
    await expect(backend.flush()).rejects.toThrow(/cannot connect to Redis/);
    const errors = lines.filter((l) => l.startsWith('error'));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThanOrEqual(2);
    expect(errors[0]).toMatch(new RegExp(`^error promsd: cannot connect to Redis at ${down.url}: .*ECONNREFUSED`));
    expect(
      lines.some((l) => /^warn suppressed \d+ similar errors in the last 1s: promsd: cannot connect/.test(l)),
    ).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(5);
    c.inc(4); // nothing is dropped while Redis is down
    await down.start();
    try {
      await until('reconnected', () =>
        lines.includes(`warn promsd: connected to Redis at ${down.url} (prefix "storm")`),
      );
      await backend.flush();
      expect(await renderRedis({ url: down.url, prefix: 'storm' })).toContain('tw_storm_total 7\n');
    } finally {
      await backend.close();
      await down.kill();
    }
  });

  it('loads the apply script again when Redis forgot it (NOSCRIPT → EVAL), applying each flush once', async () => {
    const mine = new Redis(redis.url, { lazyConnect: true });
    const backend = loadBackend(new IoredisBackend({ redis: mine, prefix: 'noscript', logger: quiet }));
    const c = new Counter({ name: 'tw_noscript_total', help: 'C.' });
    c.inc(2);
    await backend.flush();
    expect(await mine.call('SCRIPT', 'FLUSH')).toBe('OK');
    c.inc(3);
    await backend.flush();
    expect(await mine.hget('promsd:{noscript}:c', 'tw_noscript_total||')).toBe('5');
    await backend.close();
    mine.disconnect();
  });

  it('uses a given ioredis client without closing it', async () => {
    const mine = new Redis(redis.url, { lazyConnect: true });
    const backend = loadBackend(new IoredisBackend({ redis: mine, prefix: 'given', logger: quiet }));
    new Gauge({ name: 'tw_given', help: 'G.' }).set(6);
    expect(await register.metrics()).toBe('# HELP tw_given G.\n# TYPE tw_given gauge\ntw_given 6\n');
    await backend.close();
    expect(mine.status).toBe('ready');
    expect(await mine.zcard('promsd:{given}:procs')).toBe(0);
    mine.disconnect();
  });

  it('refuses bad options with messages naming them', async () => {
    expect(() => new IoredisBackend({ url: 'http://x' })).toThrow(
      new BackendConfigError('IoredisBackend: url must be a redis://, rediss:// or redis+unix:// URL, got "http://x"'),
    );
    expect(() => new IoredisBackend({ prefix: 'a{b}' })).toThrow(
      'IoredisBackend: prefix must match [A-Za-z0-9_.:-]{1,64}, got "a{b}"',
    );
    expect(() => new IoredisBackend({ flushIntervalMs: 0 })).toThrow(
      'IoredisBackend: flushIntervalMs must be an integer from 10 to 2147483647 (ms), got 0',
    );
    expect(() => new IoredisBackend({ flushIntervalMs: 2000, processTtlMs: 1000 })).toThrow(
      /processTtlMs \(1000\) must be longer than flushIntervalMs \(2000\)/,
    );
    expect(() => new IoredisBackend({ url: ['redis://a:1', 'redis://b:1'] })).toThrow(
      /several urls need cluster: true/,
    );
    expect(() => new IoredisBackend({ logger: { info() {} } as never })).toThrow(
      'IoredisBackend: logger must have debug, info, warn and error methods (missing debug)',
    );
    expect(() => new IoredisBackend({ processLabel: '' })).toThrow(
      'IoredisBackend: processLabel must be a non-empty string, got ""',
    );
    expect(() => new IoredisBackend({ redis: {} as never })).toThrow(
      'IoredisBackend: redis must be an ioredis Redis or Cluster instance, got {}',
    );
    expect(() => new IoredisBackend({ redis: client, url: redis.url })).toThrow(
      'IoredisBackend: pass either redis (an ioredis client) or url/cluster, not both',
    );
    expect(() => new IoredisBackend({ tlsCa: 'abc' })).toThrow(
      'IoredisBackend: tlsCa must be PEM text (-----BEGIN CERTIFICATE-----…), got "abc"',
    );
    expect(() => new IoredisBackend(null as never)).toThrow('IoredisBackend: options must be an object, got null');
    const b = loadBackend(new IoredisBackend({ url: redis.url, prefix: 'opts', logger: quiet }));
    await expect(b.close({ timeoutMs: -1 })).rejects.toThrow(
      'IoredisBackend: close timeoutMs must be an integer from 1 to 2147483647 (ms), got -1',
    );
    await b.close();
    await b.close();
    expect(getBackend()).toBeUndefined();
    await expect(b.flush()).rejects.toThrow(
      'IoredisBackend: flush() needs a loaded, open backend (loadBackend(backend))',
    );
    expect(() => loadBackend(b)).toThrow('IoredisBackend: a closed backend cannot be loaded again; create a new one');
  });
});
