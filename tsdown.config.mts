// The published build: every source module compiled twice, side by side in dist/ — CommonJS
// (`.js`, `.d.ts`) and ESM (`.mjs`, `.d.mts`) — behind package.json's conditional `exports`, so
// an ESM app gets promsd's ESM build and, through it, the ESM build of Hono it uses itself (one
// copy of each dependency). `unbundle` keeps one output file per source module: the two entries
// of a format share one metrics registry, and __dirname-relative paths (the worker thread, the
// Lua scripts, the addon) stay as deep as in the sources.
//
// Subpaths: every entries/<name>.ts becomes dist/entries/<name>.{js,mjs}; publish it as
// `promsd/<name>` with one line in package.json "exports" (see docs/ARCHITECTURE.md, Package).
import { defineConfig } from 'tsdown';

export default defineConfig([
  {
    entry: ['index.ts', 'entries/*.ts', 'server/worker.ts', 'cli/main.ts'],
    unbundle: true,
    platform: 'node',
    target: 'node20',
    tsconfig: 'tsconfig.build.json',
    outDir: 'dist',
    clean: true,
    sourcemap: false,
    dts: true,
    // Dependencies stay imports: the app's own copy is the one promsd uses.
    deps: { skipNodeModulesBundle: true },
    format: {
      cjs: { define: { __PROMSD_FORMAT__: '"cjs"' } },
      // import.meta.dirname (Node >= 20.11) instead of tsdown's shim module, which would be
      // emitted under dist/node_modules/, a folder npm never packs.
      esm: { define: { __PROMSD_FORMAT__: '"esm"', __dirname: 'import.meta.dirname' } },
    },
    outExtensions: ({ format }) => (format === 'cjs' ? { js: '.js', dts: '.d.ts' } : { js: '.mjs', dts: '.d.mts' }),
  },
]);
