// A real redis-server per test file, on a free loopback port, without persistence; and child
// processes that load a backend and do what they are told (test/fixtures/redis-child.js).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { getBackend } from '../../backend/load';
import { register } from '../../index';

export const REDIS_SERVER = '/usr/bin/redis-server';
const CHILD = join(__dirname, '..', 'fixtures', 'redis-child.js');

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Sends one inline command and returns the raw reply (enough for PING/INFO/FLUSHALL). */
export async function redisCommand(port: number, ...args: string[]): Promise<string> {
  const s = new Socket();
  const chunks: Buffer[] = [];
  s.on('data', (d) => chunks.push(d));
  s.connect(port, '127.0.0.1');
  await once(s, 'connect');
  s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  // One reply: wait until something arrived and the socket went quiet.
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    const check = (): void => {
      if (chunks.length > 0) resolve();
      else setTimeout(check, 5);
    };
    check();
  });
  await new Promise((r) => setTimeout(r, 20));
  s.destroy();
  return Buffer.concat(chunks).toString('utf8');
}

/** A redis-server the test controls. */
export class RedisServer {
  proc: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts, empty) the server and waits until it answers PING. */
  async start(): Promise<void> {
    this.proc = spawn(
      REDIS_SERVER,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await redisCommand(this.port, 'PING')).startsWith('+PONG')) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  /** SIGKILLs the server (no goodbye, no save) and waits for it to exit. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p === undefined || p.exitCode !== null) return;
    p.kill('SIGKILL');
    await once(p, 'exit');
  }
}

/** Three cluster-enabled servers on loopback joined by `redis-cli --cluster create`. */
export class RedisCluster {
  readonly procs: ChildProcess[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'promsd-cluster-'));
  constructor(readonly ports: number[]) {}

  get urls(): string[] {
    return this.ports.map((p) => `redis://127.0.0.1:${p}`);
  }

  async start(): Promise<void> {
    for (const port of this.ports) {
      this.procs.push(
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
            '--dir',
            this.dir,
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of this.ports)
      await until(`node ${port}`, async () => (await redisCommand(port, 'PING').catch(() => '')).startsWith('+PONG'));
    const create = spawn(
      'redis-cli',
      ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      {
        stdio: 'ignore',
      },
    );
    const [code] = (await once(create, 'exit')) as [number];
    if (code !== 0) throw new Error(`redis-cli --cluster create exited ${code}`);
    await until('cluster_state:ok', async () => {
      for (const p of this.ports)
        if (!(await redisCommand(p, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      return true;
    });
  }

  async stop(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode === null) {
        p.kill('SIGKILL');
        await once(p, 'exit');
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a three-node cluster on free ports. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const c = new RedisCluster([await freePort(), await freePort(), await freePort()]);
  await c.start();
  return c;
}

/** Starts a server on a free port. */
export async function startRedis(): Promise<RedisServer> {
  const r = new RedisServer(await freePort());
  await r.start();
  return r;
}

/** A child process running test/fixtures/redis-child.js with a plan. */
export interface Child {
  proc: ChildProcess;
  /** Messages received so far. */
  messages: Record<string, unknown>[];
  /** Resolves with the first message of `type`. */
  waitFor(type: string): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal). */
  exited: Promise<number | string>;
  send(msg: unknown): void;
}

/** Spawns a child with `plan` (see the fixture's header). */
export function spawnChild(plan: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(plan)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const messages: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  proc.on('message', (m: Record<string, unknown>) => {
    messages.push(m);
    for (const w of waiters.filter((x) => x.type === m.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    proc,
    messages,
    exited,
    send: (msg) => proc.send(msg as never),
    waitFor: (type) => {
      const seen = messages.find((m) => m.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ type, resolve });
        void exited.then((code) => reject(new Error(`child exited (${code}) before sending "${type}"`)));
      });
    },
  };
}

/** Waits until `fn` returns true (polling), or throws after `ms`. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A logger that drops everything, for tests that do not look at the backend's logs. */
export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The file's redis-server, started before its tests and killed after them; after each test the
 * backend loaded by the test is closed and the global registry cleared. Read `url` and `port`
 * inside tests (they are set once the server runs).
 */
export function useRedisForFile(): { readonly url: string; readonly port: number } {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.kill();
  });
  afterEach(async () => {
    await getBackend()?.close();
    register.clear();
  });
  const running = (): RedisServer => {
    if (!server) throw new Error('the redis-server of this file is not running (use it inside a test)');
    return server;
  };
  return {
    get url() {
      return running().url;
    },
    get port() {
      return running().port;
    },
  };
}
