// Hono and its Node adapter, loaded on first use — importing promsd to instrument loads none of
// them — and in promsd's own module format: the CommonJS build requires Hono's CommonJS build,
// the ESM build imports its ESM build. That is the copy an app of the same format uses itself,
// and the one Hono's route helper needs (`matchedRoutes(c)` reads a symbol private to the copy
// that built `c`: with the other copy every request would fail).
import type * as HonoModule from 'hono';
import type * as NodeServerModule from '@hono/node-server';
import type * as RouteModule from 'hono/route';

// Set by the build (tsdown.config.ts); undefined when running the TypeScript sources (vitest
// loads them as ESM).
declare const __PROMSD_FORMAT__: 'cjs' | 'esm' | undefined;
const CJS = typeof __PROMSD_FORMAT__ !== 'undefined' && __PROMSD_FORMAT__ === 'cjs';

function load<T>(name: string): Promise<T> {
  return CJS ? Promise.resolve(require(name) as T) : (import(name) as Promise<T>);
}

let hono: typeof HonoModule | undefined;
let route: typeof RouteModule | undefined;

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

/** Loads `hono/route` (the middleware's route templates) in this build's format. */
export async function importHonoRoute(): Promise<typeof RouteModule> {
  return (route ??= await load<typeof RouteModule>('hono/route'));
}

/** True once `importHonoRoute()` has resolved. */
export function honoRouteLoaded(): boolean {
  return route !== undefined;
}

/** `hono/route`, once `importHonoRoute()` has resolved. */
export function honoRouteNow(): typeof RouteModule {
  if (route === undefined) throw new Error('promsd: hono/route used before importHonoRoute() resolved');
  return route;
}

/** Loads `@hono/node-server` (the metrics server's adapter) in this build's format. */
export function importNodeServer(): Promise<typeof NodeServerModule> {
  return load<typeof NodeServerModule>('@hono/node-server');
}
