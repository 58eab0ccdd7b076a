// Loads the Rust core once per thread. The addon's state (the series table) is process-wide;
// each thread that loads it gets its own shard.
//
// Where the binary comes from, in order (the napi-rs layout, our own loader):
//   1. native/promsd.<triple>.node in the package root: what `npm run build` writes in a clone;
//   2. the package promsd-<triple> (npm/<triple>/ in the repository), an optionalDependency of
//      promsd that npm installs only on the platform its os/cpu/libc fields name.
// When neither loads, one NativeAddonError says what was looked for and how to build it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { NativeAddonError } from '../errors';
import type * as Native from '../native/index';

export type { Native as NativeTypes };

/** Triples with a prebuilt package (package.json optionalDependencies, npm/<triple>/). */
export const PREBUILT_TRIPLES = [
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
] as const;

/** musl or glibc, as napi-rs decides: ldd's text first (cheap), then the process report's header. */
function isMusl(): boolean {
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
  } catch {
    // No ldd (distroless images): glibc puts its version in the report header, musl does not.
  }
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime === undefined;
}

/** The napi-rs platform triple of this process: `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`… */
export function platformTriple(platform: string = process.platform, arch: string = process.arch): string {
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function libcOf(triple: string): string {
  if (triple.endsWith('-gnu')) return 'glibc';
  if (triple.endsWith('-musl')) return 'musl';
  return 'n/a';
}

/** Source (metrics/) and build (dist/metrics/) sit at different depths below the package root. */
function packageRoot(): string {
  return (
    [join(__dirname, '..'), join(__dirname, '..', '..')].find((dir) => existsSync(join(dir, 'package.json'))) ?? ''
  );
}

function isNotFound(err: unknown, what: string): boolean {
  const e = err as NodeJS.ErrnoException;
  return e?.code === 'MODULE_NOT_FOUND' && String(e.message).includes(what);
}

function load(): typeof Native {
  const triple = platformTriple();
  const local = join(packageRoot(), 'native', `promsd.${triple}.node`);
  const pkg = `promsd-${triple}`;
  const failures: string[] = [];
  if (existsSync(local)) {
    try {
      return require(local) as typeof Native;
    } catch (err) {
      failures.push(`${local}: ${(err as Error).message}`);
    }
  }
  try {
    return require(pkg) as typeof Native;
  } catch (err) {
    if (!isNotFound(err, pkg)) failures.push(`${pkg}: ${(err as Error).message}`);
  }
  const prebuilt = (PREBUILT_TRIPLES as readonly string[]).includes(triple);
  throw new NativeAddonError(
    [
      `promsd: no native addon for platform ${process.platform}, arch ${process.arch}, libc ${libcOf(triple)} (${triple}).`,
      prebuilt
        ? `Expected the package "${pkg}", an optional dependency of promsd that npm installs on this platform: it is missing (installed with --omit=optional or --no-optional, or from a lockfile made on another platform?). Reinstall promsd without omitting optional dependencies.`
        : `No prebuilt package exists for ${triple} (prebuilt: ${PREBUILT_TRIPLES.join(', ')}).`,
      ...failures.map((f) => `Failed to load ${f}`),
      'Or build it from source: clone the promsd repository, run `npm install` in the clone (needs cargo, the Rust toolchain; it writes native/promsd.<triple>.node), then `npm install <path to the clone>` in your project.',
    ].join('\n'),
  );
}

export const native: typeof Native = load();
