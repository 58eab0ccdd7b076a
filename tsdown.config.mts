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

// CommonJS only: the root entry (dist/index.js) requires the metrics layer at once and every
// other module (server, service discovery, backends, default metrics) on first access of one
// of its exports, through a getter. `require('promsd')` to instrument then loads a third of the
// modules and none of node:http, node:cluster or node:worker_threads (bench: require-time).
// ESM has no lazy re-export; there, Hono & co. still load on first use (server/hono.ts).
const EAGER = /^\.\/(errors|metrics\/(?!default)[\w-]+)\.js$/;
function lazyRootExports() {
  return {
    name: 'promsd:lazy-root-exports',
    renderChunk(code: string, chunk: { fileName: string }, options: { format: string }) {
      if (options.format !== 'cjs' || chunk.fileName !== 'index.js') return null;
      const lazy = new Map<string, string>();
      let out = code.replace(/^(?:const (\w+(?:\$\d+)?) = )?require\((["'])([^"']+)\2\);\n/gm, (line, id, _q, file) => {
        if (EAGER.test(file)) return line;
        if (id) lazy.set(id, file);
        return '';
      });
      out = out.replace(/^exports\.(\w+) = (\w+(?:\$\d+)?)\.(\w+);$/gm, (line, name, id, prop) => {
        const file = lazy.get(id);
        if (file === undefined) return line;
        return `Object.defineProperty(exports, "${name}", { enumerable: true, get: function () { return require("${file}").${prop}; } });`;
      });
      for (const id of lazy.keys()) {
        if (new RegExp(`\\b${id.replace('$', '\\$')}\\b`).test(out))
          throw new Error(`lazy-root-exports: ${id} is still used`);
      }
      return { code: out, map: null };
    },
  };
}

export default defineConfig([
  {
    // examples/: built for `node dist/examples/demo.js`, left out of the package ("files").
    entry: ['index.ts', 'entries/*.ts', 'server/worker.ts', 'cli/main.ts', 'examples/demo.ts'],
    unbundle: true,
    platform: 'node',
    target: 'node20',
    tsconfig: 'tsconfig.build.json',
    outDir: 'dist',
    clean: true,
    sourcemap: false,
    dts: true,
    plugins: [lazyRootExports()],
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
