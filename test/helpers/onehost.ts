// Helpers of the one-host tests: processes of test/fixtures/onehost-app.js, scrapes, and the
// check that no counter-like sample (counter, histogram bucket/count/sum of positive values)
// ever decreases between scrapes.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

import { get } from './http';

export const APP = join(__dirname, '..', 'fixtures', 'onehost-app.js');

export interface App {
  proc: ChildProcess;
  /** Every `{port, pid}` line printed so far, the app's children included. */
  listening: { port: number; pid: number }[];
  /** Resolves once `n` processes listen. */
  ready(n: number): Promise<{ port: number; pid: number }[]>;
  exited: Promise<number | string>;
}

/** Starts the fixture with `env` added to this process's environment. */
export function startApp(env: Record<string, string>): App {
  const proc = spawn(process.execPath, [APP], {
    env: { ...process.env, PROMSD_AGGREGATOR_SOCKET: '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const listening: { port: number; pid: number }[] = [];
  let buf = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() as string;
    for (const l of lines) if (l.startsWith('{')) listening.push(JSON.parse(l));
  });
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    proc,
    listening,
    exited,
    ready: async (n) => {
      const deadline = Date.now() + 15_000;
      while (listening.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${listening.length} of ${n} processes listen`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return listening.slice(0, n);
    },
  };
}

/** `GET http://127.0.0.1:<port><path>`'s body, or undefined when it fails or is not a 200. */
export async function fetchText(port: number, path: string): Promise<string | undefined> {
  try {
    const r = await get(`http://127.0.0.1:${port}${path}`);
    return r.status === 200 ? r.body.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** Sends `n` hits to `port`, a few at a time. */
export async function hit(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, async () => {
        const r = await get(`http://127.0.0.1:${port}/hit`);
        if (r.status !== 200) throw new Error(`hit: HTTP ${r.status}`);
      }),
    );
  }
}

/** The samples of an exposition, by series (`name{labels}`). */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The counter-like series of `prev` that are lower (or gone) in `next`, as `series: a → b`. */
export function decreases(prev: Map<string, number>, next: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [k, v] of prev) {
    if (!/_total|_bucket\{|_count|_sum/.test(k)) continue;
    const w = next.get(k);
    if (w === undefined || w < v) out.push(`${k}: ${v} → ${w}`);
  }
  return out;
}

/** Scrapes `port()` every `everyMs` until stopped; records every decrease and the last scrape. */
export function watch(port: () => number, everyMs = 200) {
  let prev: Map<string, number> | undefined;
  const found: string[] = [];
  let scrapes = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const text = await fetchText(port(), '/metrics');
      if (text !== undefined) {
        const s = samples(text);
        if (prev !== undefined) found.push(...decreases(prev, s));
        prev = s;
        scrapes++;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    decreases: found,
    get scrapes() {
      return scrapes;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Waits until `fn` returns true (polling every 25 ms), or throws after `ms`. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
