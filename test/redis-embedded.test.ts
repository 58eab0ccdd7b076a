import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { afterEach, describe, expect, it } from 'vitest';

import { Counter, EmbeddedBackend, Gauge, loadBackend, register, startHttpServerInThread } from '../index';
import { AGGREGATOR_SOCKET_ENV } from '../backend/embedded';
import { getBackend } from '../backend/load';
import { get } from './helpers/http';
import { spawnChild, until } from './helpers/redis';

// One host, no server: the primary's core aggregates over a Unix socket with the Redis protocol.

afterEach(async () => {
  await getBackend()?.close();
  register.clear();
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('embedded multi-process mode', () => {
  it('aggregates a node:cluster primary and its workers, scraped from the primary', () => {
    const r = spawnSync(process.execPath, [join(__dirname, 'fixtures', 'redis-cluster-primary.js'), '3'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, [AGGREGATOR_SOCKET_ENV]: '' },
    });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { role: string; text: string };
    expect(out.role).toBe('primary');
    // 5 + 10 + 20 + 30; the workers closed, so only the primary's gauge is left.
    expect(out.text).toBe(
      '# HELP cl_requests_total Requests.\n# TYPE cl_requests_total counter\n' +
        'cl_requests_total{role="primary"} 5\ncl_requests_total{role="worker"} 60\n\n' +
        '# HELP cl_up Processes up.\n# TYPE cl_up gauge\ncl_up 1\n',
    );
    expect(r.status).toBe(0);
  });

  it("counts child processes, drops a SIGKILLed child's gauge after its TTL, and removes the socket on close", async () => {
    const backend = new EmbeddedBackend({ role: 'primary', flushIntervalMs: 50, processTtlMs: 400, logger: quiet });
    loadBackend(backend);
    expect(process.env[AGGREGATOR_SOCKET_ENV]).toBe(backend.socketPath);
    const busy = new Gauge({ name: 'emb_busy', help: 'Busy.' });
    busy.set(1);
    const done = new Counter({ name: 'emb_done_total', help: 'Done.' });
    done.inc();
    const children = [2, 3].map((v) =>
      spawnChild({
        backend: 'embedded',
        flushIntervalMs: 50,
        processTtlMs: 400,
        then: 'stay',
        metrics: [
          { type: 'gauge', config: { name: 'emb_busy', help: 'Busy.' } },
          { type: 'counter', config: { name: 'emb_done_total', help: 'Done.' } },
        ],
        steps: [
          { metric: 0, method: 'set', value: v },
          { metric: 1, method: 'inc', value: v * 10 },
        ],
      }),
    );
    await Promise.all(children.map((c) => c.waitFor('ready')));
    await until('children flushed', async () => (await register.metrics()).includes('emb_busy 6\n'));
    expect(await register.metrics()).toContain('emb_done_total 51\n');
    children[0].proc.kill('SIGKILL');
    await until('dead child expired', async () => (await register.metrics()).includes('emb_busy 4\n'));
    expect(await register.metrics()).toContain('emb_done_total 51\n');
    children[1].send('exit');
    expect(await children[1].exited).toBe(0);
    expect(await register.metrics()).toContain('emb_busy 1\n');
    const path = backend.socketPath;
    expect(existsSync(path)).toBe(true);
    await backend.close();
    expect(existsSync(path)).toBe(false);
    expect(process.env[AGGREGATOR_SOCKET_ENV]).toBeUndefined();
  });

  // Issue 13: the aggregate is the core's answer for every thread, not a per-thread JS state.
  it("a worker thread's register.metrics() shows the aggregate with the backend loaded on the main thread (11, not its own 1)", async () => {
    loadBackend(new EmbeddedBackend({ role: 'primary', prefix: 'emb13w', flushIntervalMs: 50, logger: quiet }));
    const child = childAdds10('emb13_worker_total', 'emb13w');
    expect(await child.exited).toBe(0);
    const worker = new Worker(join(__dirname, 'fixtures', 'global-render-worker.js'), {
      workerData: { name: 'emb13_worker_total', inc: 1 },
    });
    const m = await new Promise<{ type: string; text?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(m).toEqual({
      type: 'text',
      text: '# HELP emb13_worker_total Orders.\n# TYPE emb13_worker_total counter\nemb13_worker_total 11\n',
    });
  });

  it('a threaded server started before the backend is loaded serves the aggregate on its first scrape after it (1, then 11)', async () => {
    const orders = new Counter({ name: 'emb13_server_total', help: 'Orders.' });
    orders.inc();
    const server = await startHttpServerInThread({ addr: '127.0.0.1' });
    try {
      expect((await get(server.url)).body.toString()).toContain('emb13_server_total 1\n');
      loadBackend(new EmbeddedBackend({ role: 'primary', prefix: 'emb13s', flushIntervalMs: 50, logger: quiet }));
      const child = childAdds10('emb13_server_total', 'emb13s');
      expect(await child.exited).toBe(0);
      const first = await get(server.url);
      expect(first.headers['x-promsd-fallback']).toBeUndefined();
      // (The previous test's worker thread ended; its counter stays in the totals.)
      expect(first.body.toString()).toContain(
        '# HELP emb13_server_total Orders.\n# TYPE emb13_server_total counter\nemb13_server_total 11\n',
      );
    } finally {
      await server.close();
    }
  });
});

/**
 * A child process of this host's aggregation under `prefix` adds 10 to counter `name`, flushes and
 * exits. (Each test has its own prefix: a prefix's aggregate outlives the process holding it.)
 */
function childAdds10(name: string, prefix: string): ReturnType<typeof spawnChild> {
  return spawnChild({
    backend: 'embedded',
    prefix,
    flushIntervalMs: 50,
    metrics: [{ type: 'counter', config: { name, help: 'Orders.' } }],
    steps: [{ metric: 0, method: 'inc', value: 10 }],
  });
}
