// Hono and its Node adapter, loaded on first use — importing promsd to instrument loads none of
// them — and in promsd's own module format: the CommonJS build requires Hono's CommonJS build,
// the ESM build imports its ESM build, the copy an app of the same format uses itself. (The
// request middleware needs no copy at all: it reads `c.req.matchedRoutes`, see frameworks/hono.ts.)
import type * as HonoModule from 'hono';
import type * as NodeServerModule from '@hono/node-server';

// Set by the build (tsdown.config.ts); undefined when running the TypeScript sources (vitest
// loads them as ESM).
declare const __PROMSD_FORMAT__: 'cjs' | 'esm' | undefined;
const CJS = typeof __PROMSD_FORMAT__ !== 'undefined' && __PROMSD_FORMAT__ === 'cjs';

function load<T>(name: string): Promise<T> {
  return CJS ? Promise.resolve(require(name) as T) : (import(name) as Promise<T>);
}

let hono: typeof HonoModule | undefined;

/** Loads `hono` (what `createMetricsApp` needs) in this build's format. */
export async function importHono(): Promise<typeof HonoModule> {
  return (hono ??= await load<typeof HonoModule>('hono'));
}

/** @internal Hands over an already imported `hono` (the `promsd/server` entry does). */
export function provideHono(mod: typeof HonoModule): void {
  hono ??= mod;
}

/**
 * `hono`, now. Loaded already by `importHono()` (startHttpServer, the worker) or the
 * `promsd/server` entry; otherwise required, which in the ESM build is Hono's CommonJS copy —
 * harmless for an app built by promsd, which only ever meets its own routes.
 */
export function honoNow(): typeof HonoModule {
  return (hono ??= require('hono') as typeof HonoModule);
}

/** Loads `@hono/node-server` (the metrics server's adapter) in this build's format. */
export function importNodeServer(): Promise<typeof NodeServerModule> {
  return load<typeof NodeServerModule>('@hono/node-server');
}
