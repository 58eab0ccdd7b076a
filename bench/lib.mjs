// Shared helpers for bench/cases/*.mjs. Each case is a script run as
//   node --expose-gc bench/cases/<case>.mjs <promsd|prom-client>
// that prints exactly one JSON line on stdout (the last line); bench/run.mjs parses it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const RUNS = 5;
// Untimed runs before the measured ones: the first lets V8 optimise the loop (on-stack
// replacement), the second runs its regular optimised code, which the measured runs then reuse
// (each case defines its timed loop once). With one warm-up, prom-client's unlabelled inc still
// measured its OSR code in the first sample and ~2.1 ns instead of its steady 0.87 ns while its
// loop was a new closure per run.
export const WARMUP = 2;

// Load the library named on the command line. 'promsd' resolves to this repo
// through the package self-reference (package.json "exports" -> dist/index.js).
export function loadLib() {
  const name = process.argv[2];
  if (name !== 'promsd' && name !== 'prom-client') {
    throw new Error(`usage: node --expose-gc <case>.mjs promsd|prom-client (got ${name})`);
  }
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  const lib = require(name);
  lib.register.clear();
  return lib;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function fullGc() {
  // Several passes: one gc() may leave weak/finalizable objects for the next cycle.
  for (let i = 0; i < 4; i++) global.gc();
}

// WARMUP untimed calls (let the JIT optimise the loop and the library's hot path),
// then `runs` measured calls; `fn` returns one sample. Returns samples and median
// for the case to check its results and then report().
export async function measure(unit, fn, { runs = RUNS, warmup = WARMUP } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  for (let i = 0; i < runs; i++) {
    fullGc(); // start each run from the same heap state so a GC pause lands evenly
    samples.push(await fn());
  }
  return { unit, median: median(samples), samples };
}

// Time `n` iterations of `loop(n)` (the loop lives in the caller so V8 can inline
// the library call into it) and return ns per iteration.
export function nsPerOp(n, loop) {
  const t0 = process.hrtime.bigint();
  loop(n);
  return Number(process.hrtime.bigint() - t0) / n;
}

export async function timeMs(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

// Sum of all sample values of a metric, via the public async get(). Used after
// timing both to keep the work observable (no dead-code elimination) and to
// check that no update was lost: a fast but wrong number is worthless.
export async function total(metric) {
  const { values } = await metric.get();
  return values.reduce((s, v) => s + v.value, 0);
}

export function check(what, got, want) {
  if (got !== want) throw new Error(`${what}: expected ${want}, got ${got}`);
}

export function report(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/** A free TCP port on loopback. */
export async function freePort() {
  const { createServer } = await import('node:net');
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Starts Debian's redis-server on a free loopback port, without persistence, and waits until it
 * answers: `{ port, url, proc, cli }` (`cli(...args)` runs redis-cli against it; `proc.kill()`
 * stops it).
 */
export async function startRedisServer() {
  const { spawn, spawnSync } = await import('node:child_process');
  const port = await freePort();
  const proc = spawn(
    '/usr/bin/redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const cli = (...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;
  for (let i = 0; i < 100 && !cli('PING').startsWith('PONG'); i++) await new Promise((r) => setTimeout(r, 50));
  return { port, url: `redis://127.0.0.1:${port}`, proc, cli };
}
