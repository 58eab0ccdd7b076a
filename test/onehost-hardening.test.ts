import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Counter, EmbeddedBackend, loadBackend, register } from '../index';
import { runtimeDir } from '../backend/embedded';
import { getBackend } from '../backend/load';
import { requireBuild } from './helpers/build';
import { fetchText, samples, startApp, until } from './helpers/onehost';
import { spawnChild } from './helpers/redis';

// The one-host aggregator's socket is untrusted input with hard limits, in a directory only
// this user can enter; stale files of dead holders are replaced, and a holder cleans up.

beforeAll(() => requireBuild());
afterEach(async () => {
  await getBackend()?.close();
  register.clear();
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let n = 0;
const prefix = () => `hd${process.pid}x${n++}`;

/** Sends `bytes` on a new connection; resolves with what came back before the socket closed (or `ms`). */
function send(path: string, bytes: Buffer | string, ms = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(path);
    const got: Buffer[] = [];
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(Buffer.concat(got).toString('latin1'));
    };
    const t = setTimeout(done, ms);
    s.on('data', (d) => got.push(d));
    s.on('error', done);
    s.on('close', done);
    s.write(bytes);
  });
}

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function garbage(r: () => number): Buffer {
  const pieces = ['*', '$', '\r\n', '-1', '99999999999999999999', '3', 'EVALSHA', 'PING', '\n', '*2\r\n$4\r\nPING\r\n'];
  const out: Buffer[] = [];
  const k = 1 + Math.floor(r() * 12);
  for (let i = 0; i < k; i++) {
    if (r() < 0.3) out.push(Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256))));
    else out.push(Buffer.from(pieces[Math.floor(r() * pieces.length)]));
  }
  return Buffer.concat(out);
}

describe('the embedded aggregator socket', () => {
  it('refuses oversized and malformed input, closing only that connection, while the aggregate stays exact', async () => {
    const ns = prefix();
    const backend = new EmbeddedBackend({ prefix: ns, flushIntervalMs: 50, logger: quiet });
    loadBackend(backend);
    expect(backend.holdsAggregator).toBe(true);
    const mine = new Counter({ name: 'fz_total', help: 'F.' });
    mine.inc(7);
    const child = spawnChild({
      backend: 'embedded',
      prefix: ns,
      flushIntervalMs: 50,
      metrics: [{ type: 'counter', config: { name: 'fz_total', help: 'F.' } }],
      sustain: { metric: 0, total: 600, perTick: 3, everyMs: 10 },
    });
    await child.waitFor('ready');
    const path = backend.socketPath;
    // The two of the issue: each once aborted the process allocating 240 GB.
    expect(await send(path, '*10000000000\r\n')).toBe(
      '-ERR promsd: an array of 10000000000 (the limit is 131072); closing\r\n',
    );
    expect(await send(path, '*1\r\n$100000000000\r\n')).toBe(
      '-ERR promsd: a bulk string of 100000000000 (the limit is 8388608); closing\r\n',
    );
    expect(await send(path, 'GET / HTTP/1.1\r\n\r\n')).toBe(
      `-ERR promsd: expected an array ('*'), got "GET / HTTP/1.1"; closing\r\n`,
    );
    expect(await send(path, `*1\r\n$${'9'.repeat(30)}\r\n`)).toMatch(
      /^-ERR promsd: a header line longer than 24 bytes/,
    );
    // A valid command still works, and so does a pipeline with garbage after it (answered, then closed).
    expect(await send(path, '*1\r\n$4\r\nPING\r\n')).toBe('+PONG\r\n');
    expect(await send(path, '*1\r\n$4\r\nPING\r\n*x\r\n')).toBe(
      `+PONG\r\n-ERR promsd: expected an array ('*'), got "*x"; closing\r\n`,
    );
    // Fuzz: 300 connections of random fragments, 20 at a time.
    const r = rng(14);
    for (let i = 0; i < 300; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => send(path, garbage(r), 150)));
    }
    // A flood past the connection cap: the extra ones are told so and closed; the flushers stay.
    const flood = Array.from({ length: 600 }, () => connect(path));
    const refused = await Promise.all(
      flood.map(
        (s) =>
          new Promise<boolean>((resolve) => {
            let text = '';
            s.on('data', (d) => {
              text += d.toString();
            });
            s.on('error', () => resolve(false));
            s.on('close', () => resolve(text === '-ERR promsd: too many connections (the limit is 512)\r\n'));
            setTimeout(() => resolve(false), 1500);
          }),
      ),
    );
    const nRefused = refused.filter(Boolean).length;
    expect(nRefused).toBeGreaterThanOrEqual(600 - 512);
    expect(nRefused).toBeLessThanOrEqual(600 - 510);
    for (const s of flood) s.destroy();
    const done = await child.waitFor('done');
    expect(done.sent).toBe(600);
    expect(await child.exited).toBe(0);
    await until('the exact aggregate', async () => (await register.metrics()).includes('fz_total 607\n'));
    expect(backend.holdsAggregator).toBe(true);
    expect(await send(path, '*1\r\n$4\r\nPING\r\n')).toBe('+PONG\r\n');
  });

  it('lives in a directory only this user can enter: created 0700, the socket 0600', async () => {
    const base = mkdtempSync(join(tmpdir(), 'promsd-xdg-'));
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = base;
    try {
      const ns = prefix();
      const infos: string[] = [];
      const backend = new EmbeddedBackend({ prefix: ns, logger: { ...quiet, info: (m) => infos.push(m) } });
      expect(backend.socketPath).toBe(join(base, 'promsd', `${ns}.sock`));
      loadBackend(backend);
      expect(infos).toEqual([`promsd: this process holds the embedded aggregator at ${backend.socketPath}`]);
      expect(statSync(join(base, 'promsd')).mode & 0o777).toBe(0o700);
      expect(statSync(backend.socketPath).mode & 0o777).toBe(0o600);
      expect(statSync(join(base, 'promsd', `${ns}.lock`)).mode & 0o777).toBe(0o600);
      await backend.close();
    } finally {
      process.env.XDG_RUNTIME_DIR = saved;
    }
    expect(runtimeDir({})).toBe(join(tmpdir(), `promsd-${process.geteuid?.()}`));
    expect(runtimeDir({ XDG_RUNTIME_DIR: '/run/user/7' })).toBe('/run/user/7/promsd');
  });

  it('refuses a runtime directory others can enter, a symlink, or one of another user', () => {
    const base = mkdtempSync(join(tmpdir(), 'promsd-xdg-'));
    const open = join(base, 'open');
    mkdirSync(join(open, 'promsd'), { recursive: true });
    chmodSync(join(open, 'promsd'), 0o755);
    const load = (xdg: string) => {
      const saved = process.env.XDG_RUNTIME_DIR;
      process.env.XDG_RUNTIME_DIR = xdg;
      try {
        const backend = new EmbeddedBackend({ prefix: prefix(), logger: quiet });
        return () => loadBackend(backend);
      } finally {
        process.env.XDG_RUNTIME_DIR = saved;
      }
    };
    const tail = '; fix or remove it, or set XDG_RUNTIME_DIR or socketPath';
    expect(load(open)).toThrow(
      `EmbeddedBackend: the runtime directory ${open}/promsd is mode 0755; it must be 0700 (only its owner may enter it)${tail}`,
    );
    const linked = join(base, 'linked');
    mkdirSync(linked);
    symlinkSync(join(open, 'promsd'), join(linked, 'promsd'));
    expect(load(linked)).toThrow(`EmbeddedBackend: the runtime directory ${linked}/promsd is not a directory${tail}`);
    expect(getBackend()).toBeUndefined();
    if (process.geteuid?.() === 0) {
      // Only root can give a directory away; elsewhere the two refusals above stand.
      const other = join(base, 'other');
      mkdirSync(join(other, 'promsd'), { recursive: true, mode: 0o700 });
      chownSync(join(other, 'promsd'), 4242, 4242);
      expect(load(other)).toThrow(
        `EmbeddedBackend: the runtime directory ${other}/promsd belongs to uid 4242, not to this user (uid 0)${tail}`,
      );
    }
  });

  it("role 'worker' never holds: alone, its flush fails naming the aggregator it cannot reach", async () => {
    const ns = prefix();
    const backend = new EmbeddedBackend({ prefix: ns, role: 'worker', flushIntervalMs: 50, logger: quiet });
    loadBackend(backend);
    await new Promise((r) => setTimeout(r, 150));
    expect(backend.holdsAggregator).toBe(false);
    const why = `promsd: cannot connect to the embedded aggregator at ${backend.socketPath}: refused: connection refused (nothing listens there) (No such file or directory (os error 2))`;
    await expect(backend.flush()).rejects.toThrow(why);
    // Its last values could not be sent either: close() says so, and still closes.
    await expect(backend.close({ timeoutMs: 500 })).rejects.toThrow(why);
    expect(getBackend()).toBeUndefined();
  });

  it("replaces a dead holder's stale socket and lock at start", async () => {
    const ns = prefix();
    const dir = runtimeDir();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const sock = join(dir, `${ns}.sock`);
    // A holder killed with SIGKILL leaves its socket file behind: listening, then killed.
    const dead = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`,
    ]);
    await new Promise((r) => dead.stdout.once('data', r));
    dead.kill('SIGKILL');
    await new Promise((r) => dead.once('exit', r));
    expect(existsSync(sock)).toBe(true);
    writeFileSync(join(dir, `${ns}.lock`), '');
    const backend = new EmbeddedBackend({ prefix: ns, flushIntervalMs: 50, logger: quiet });
    loadBackend(backend);
    expect(backend.holdsAggregator).toBe(true);
    new Counter({ name: 'st_total', help: 'S.' }).inc(3);
    expect(await register.metrics()).toBe('# HELP st_total S.\n# TYPE st_total counter\nst_total 3\n');
    await backend.close();
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(join(dir, `${ns}.lock`))).toBe(false);
  });
});

describe('cleanup and graceful handover', () => {
  const cases = [
    { signal: 'SIGTERM', graceful: false, exit: 'SIGTERM', how: 'by SIGTERM (no handler of its own)' },
    { signal: 'SIGINT', graceful: false, exit: 'SIGINT', how: 'by SIGINT (no handler of its own)' },
    { signal: 'SIGTERM', graceful: true, exit: 0, how: 'on its own after its SIGTERM handler closed its server' },
  ] as const;
  for (const { signal, graceful, exit, how } of cases) {
    it(`a holder that ends ${how} removes its socket and lock; the next holder has all its counts`, async () => {
      const ns = prefix();
      const first = startApp({ OH_PREFIX: ns, ...(graceful ? { OH_GRACEFUL: '1' } : {}) });
      const [{ port: p1 }] = await first.ready(1);
      const second = startApp({ OH_PREFIX: ns });
      const [{ port: p2 }] = await second.ready(1);
      try {
        expect(await fetchText(p1, '/holder')).toBe('1');
        for (let i = 0; i < 9; i++) await fetchText(p1, '/hit');
        await fetchText(p2, '/hit');
        first.proc.kill(signal);
        expect(await first.exited).toBe(exit);
        await until('the second holds', async () => (await fetchText(p2, '/holder')) === '1');
        await until('the aggregate', async () => {
          const s = samples((await fetchText(p2, '/metrics')) ?? '');
          return s.get('oh_requests_total') === 10;
        });
      } finally {
        second.proc.kill('SIGTERM');
        expect(await second.exited).toBe('SIGTERM');
      }
      const dir = join(process.env.XDG_RUNTIME_DIR as string, 'promsd');
      expect(existsSync(join(dir, `${ns}.sock`))).toBe(false);
      expect(existsSync(join(dir, `${ns}.lock`))).toBe(false);
    });
  }
});
