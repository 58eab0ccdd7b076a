// promsd as its users get it: the packed tarballs (the main package and this machine's
// platform package, made by scripts/pack.mjs from the build) installed with real npm into a new
// project, with no cargo on PATH, then used from CommonJS, ESM, a Hono app, TypeScript and the
// command line. Packed once and installed once in beforeAll; each test runs programs in it.
import { execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(__dirname, '..');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const TRIPLE = 'linux-x64-gnu';
const PLATFORM_PKG = `promsd-${TRIPLE}`;

let dir: string;
let app: string;
let env: NodeJS.ProcessEnv;
let installLog = '';
const tarballs: Record<string, { file: string; kB: number }> = {};

/** PATH without any directory holding cargo, plus a bin dir with node, npm and npx. */
function pathWithoutCargo(bin: string): string {
  for (const tool of ['npm', 'npx']) {
    const where = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    symlinkSync(where, join(bin, tool));
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  const rest = (process.env.PATH ?? '').split(delimiter).filter((d) => d && !existsSync(join(d, 'cargo')));
  return [bin, ...rest].join(delimiter);
}

// Asynchronous: a child that blocked this worker for long would time out vitest's RPC.
function run(
  cmd: string,
  args: string[],
  cwd = app,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, env, encoding: 'utf8', timeout: 240_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ status: err ? (typeof code === 'number' ? code : -1) : 0, stdout, stderr });
      },
    );
  });
}

async function runOk(cmd: string, args: string[], cwd = app): Promise<string> {
  const r = await run(cmd, args, cwd);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function write(file: string, text: string): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
}

// A program that creates metrics, serves them with startHttpServer and prints one scrape.
const PROGRAM_BODY = `
const requests = new Counter({ name: 'pkg_requests_total', help: 'Requests.', labelNames: ['method'] });
requests.inc({ method: 'GET' }, 3);
const temperature = new Gauge({ name: 'pkg_temperature_celsius', help: 'Temperature.' });
temperature.set(21.5);
const server = await startHttpServer({ port: 0, addr: '127.0.0.1' });
const res = await fetch(server.url);
const body = await res.text();
await server.close();
console.log(JSON.stringify({ status: res.status, body }));
`;

beforeAll(async () => {
  if (!existsSync(join(REPO, 'dist', 'index.mjs'))) throw new Error('dist/ is not built: run `npm run build` first');
  dir = mkdtempSync(join(tmpdir(), 'promsd-package-'));
  mkdirSync(join(dir, 'bin'));
  env = { ...process.env, PATH: pathWithoutCargo(join(dir, 'bin')), npm_config_update_notifier: 'false' };
  for (const k of Object.keys(env)) if (k.startsWith('npm_') && k !== 'npm_config_update_notifier') delete env[k];

  const packed = await runOk(process.execPath, [join(REPO, 'scripts', 'pack.mjs'), '--out', join(dir, 'pack')], REPO);
  for (const line of packed.trim().split('\n')) {
    const [file = '', size = ''] = line.split('\t');
    tarballs[file.endsWith(`promsd-${pkg.version}.tgz`) ? 'main' : 'platform'] = {
      file,
      kB: Number.parseInt(size, 10),
    };
  }

  app = join(dir, 'app');
  write(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // hono: the app's own, the one promsd's ESM build must share; @types/node for the TS consumer.
  const install = await run('npm', [
    'install',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    tarballs.main!.file,
    tarballs.platform!.file,
    `hono@${pkg.dependencies.hono}`,
    `@types/node@${pkg.devDependencies['@types/node']}`,
  ]);
  if (install.status !== 0) throw new Error(`npm install failed\n${install.stdout}\n${install.stderr}`);
  installLog = install.stdout + install.stderr;
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed packages', () => {
  it('are a main package without a binary and a platform package holding the stripped addon', async () => {
    const list = (file: string): string[] =>
      execFileSync('tar', ['tzf', file], { encoding: 'utf8' }).trim().split('\n').sort();
    const main = list(tarballs.main!.file);
    expect(main.filter((f) => !f.startsWith('package/dist/'))).toEqual([
      'package/LICENSE',
      'package/README.md',
      'package/package.json',
    ]);
    expect(main.filter((f) => /\.(map|ts\.map|node|rs|test\.ts)$|\/examples\/|\/test\/|\/bench\//.test(f))).toEqual([]);
    expect(list(tarballs.platform!.file)).toEqual([
      'package/LICENSE',
      'package/README.md',
      'package/package.json',
      `package/promsd.${TRIPLE}.node`,
    ]);
    const elf = execFileSync('file', ['-L', join(app, 'node_modules', PLATFORM_PKG, `promsd.${TRIPLE}.node`)], {
      encoding: 'utf8',
    });
    expect(elf).toContain(', stripped');
  });

  it('leave a plain `npm pack` of a clone carrying the binary it built (building from source elsewhere)', async () => {
    const [listed] = JSON.parse(await runOk('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], REPO));
    expect(listed.files.map((f: { path: string }) => f.path)).toContain(`native/promsd.${TRIPLE}.node`);
  });

  it('publish a manifest without install scripts that lists every platform package at its version', async () => {
    const m = JSON.parse(readFileSync(join(app, 'node_modules', 'promsd', 'package.json'), 'utf8'));
    expect(m.scripts).toBeUndefined();
    expect(m.devDependencies).toBeUndefined();
    expect(m.optionalDependencies).toEqual(
      Object.fromEntries(
        [
          'darwin-arm64',
          'darwin-x64',
          'linux-arm64-gnu',
          'linux-arm64-musl',
          'linux-x64-gnu',
          'linux-x64-musl',
          'win32-x64-msvc',
        ].map((t) => [`promsd-${t}`, pkg.version]),
      ),
    );
    const p = JSON.parse(readFileSync(join(app, 'node_modules', PLATFORM_PKG, 'package.json'), 'utf8'));
    expect([p.name, p.version, p.os, p.cpu, p.libc, p.main]).toEqual([
      PLATFORM_PKG,
      pkg.version,
      ['linux'],
      ['x64'],
      ['glibc'],
      `promsd.${TRIPLE}.node`,
    ]);
  });

  it('pass publint and arethetypeswrong', async () => {
    const publint = await runOk(join(REPO, 'node_modules', '.bin', 'publint'), ['--strict', tarballs.main!.file], REPO);
    expect(publint).not.toMatch(/Suggestions|Warnings|Errors/);
    expect(publint).toContain('All good!');
    // node16 profile: Node >= 20 only, and moduleResolution node10 cannot see `exports` subpaths.
    const attw = await run(
      join(REPO, 'node_modules', '.bin', 'attw'),
      ['--profile', 'node16', '--format', 'json', tarballs.main!.file],
      REPO,
    );
    expect(attw.status, attw.stderr).toBe(0);
    const problems = Object.values((JSON.parse(attw.stdout) as { problems?: object }).problems ?? {})
      .flat()
      .filter((p: { resolutionKind?: string }) => p.resolutionKind !== 'node10');
    expect(problems).toEqual([]);
  });

  it('install without warnings: no EBADENGINE, no install script, no deprecation', async () => {
    expect(installLog.split('\n').filter((l) => /warn|EBADENGINE|install-scripts|deprecated/i.test(l))).toEqual([]);
  });

  it('install with a PATH without cargo, leaving no build step', async () => {
    expect((await run('sh', ['-c', 'command -v cargo'])).status).not.toBe(0);
    expect(existsSync(join(app, 'node_modules', 'promsd', 'dist', 'index.mjs'))).toBe(true);
    // The main package holds no binary and no sources of the core (the scripts are compiled into it).
    expect(existsSync(join(app, 'node_modules', 'promsd', 'native'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'hono'))).toBe(true);
  });
});

describe('an installed promsd', () => {
  it('serves metrics to a CommonJS program, through the CommonJS build', async () => {
    write(
      join(app, 'cjs.cjs'),
      `const { Counter, Gauge, startHttpServer } = require('promsd');
console.error(require.resolve('promsd'));
(async () => {${PROGRAM_BODY}})();
`,
    );
    const r = await run('node', ['cjs.cjs']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe(join(app, 'node_modules', 'promsd', 'dist', 'index.js'));
    expect(JSON.parse(r.stdout)).toEqual({
      status: 200,
      body:
        '# HELP pkg_requests_total Requests.\n# TYPE pkg_requests_total counter\npkg_requests_total{method="GET"} 3\n\n' +
        '# HELP pkg_temperature_celsius Temperature.\n# TYPE pkg_temperature_celsius gauge\npkg_temperature_celsius 21.5\n',
    });
  });

  it('serves metrics to an ESM program, through the ESM build', async () => {
    write(
      join(app, 'esm.mjs'),
      `import { Counter, Gauge, startHttpServer } from 'promsd';
console.error(import.meta.resolve('promsd'));
${PROGRAM_BODY}`,
    );
    const r = await run('node', ['esm.mjs']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe(`file://${join(app, 'node_modules', 'promsd', 'dist', 'index.mjs')}`);
    expect(JSON.parse(r.stdout).body).toContain('pkg_requests_total{method="GET"} 3\n');
    expect(JSON.parse(r.stdout).body).toContain('pkg_temperature_celsius 21.5\n');
  });

  it('loads neither Hono, ioredis, consul nor zod when a CommonJS program only instruments', async () => {
    write(
      join(app, 'lean.cjs'),
      `const { Counter, register } = require('promsd');
new Counter({ name: 'lean_total', help: 'h' }).inc();
const deps = Object.keys(require.cache).filter((f) => f.includes('node_modules') && !f.includes('/node_modules/promsd'));
console.log(JSON.stringify(deps));
`,
    );
    expect(JSON.parse(await runOk('node', ['lean.cjs']))).toEqual([]);
  });

  it('loads neither Hono, ioredis, consul nor zod when an ESM program only instruments', async () => {
    // A module-loading hook sees every ESM module and every CommonJS module loaded through ESM.
    write(
      join(app, 'seen-hook.mjs'),
      `export async function load(url, context, next) {
  if (url.includes('/node_modules/') && !url.includes('/node_modules/promsd')) process.stderr.write('LOADED ' + url + '\\n');
  return next(url, context);
}
`,
    );
    write(
      join(app, 'lean.mjs'),
      `import { register } from 'node:module';
register('./seen-hook.mjs', import.meta.url);
const { Counter } = await import('promsd');
new Counter({ name: 'lean_total', help: 'h' }).inc();
const { createRequire } = await import('node:module');
const deps = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/node_modules/') && !f.includes('/node_modules/promsd'));
console.log(JSON.stringify(deps));
`,
    );
    const r = await run('node', ['lean.mjs']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
    expect(r.stderr).not.toContain('LOADED');
  });

  it('counts an ESM Hono app’s requests under their route template', async () => {
    write(
      join(app, 'hono.mjs'),
      `import { Hono } from 'hono';
import { metricsMiddleware, register } from 'promsd';
const app = new Hono();
app.use(metricsMiddleware());
app.get('/users/:id', (c) => c.text('user ' + c.req.param('id')));
const statuses = [];
for (const path of ['/users/1', '/users/2', '/nowhere']) statuses.push((await app.request(path)).status);
const lines = (await register.metrics()).split('\\n').filter((l) => l.startsWith('http_requests_total{'));
console.log(JSON.stringify({ statuses, lines }));
`,
    );
    const r = await run('node', ['hono.mjs']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      statuses: [200, 200, 404],
      lines: [
        'http_requests_total{method="GET",route="/users/:id",status="200"} 2',
        'http_requests_total{method="GET",route="(unmatched)",status="404"} 1',
      ],
    });
  });

  it('type-checks a strict TypeScript consumer under nodenext (ESM and CommonJS) and bundler resolution', async () => {
    const source = `import { ConsulAgent, Counter, EmbeddedBackend, FileSD, Histogram, loadBackend, metricsMiddleware, RedisBackend, register, renderRedis, startHttpServer, type MetricsHTTPServer } from 'promsd';
import { startHttpServerInThread, type MetricsServerOptions } from 'promsd/server';
import { combineServiceDiscovery, type ServiceDiscovery } from 'promsd/sd';
import { createBackend, type Backend } from 'promsd/backend';

const requests = new Counter({ name: 'ts_requests_total', help: 'Requests.', labelNames: ['method'] as const });
requests.inc({ method: 'GET' }, 2);
new Histogram({ name: 'ts_seconds', help: 'Seconds.' }).observe(0.25);
const options: MetricsServerOptions = { port: 0, addr: '127.0.0.1' };
const sd: ServiceDiscovery[] = [];
export const unused = [ConsulAgent, EmbeddedBackend, FileSD, loadBackend, metricsMiddleware, RedisBackend, renderRedis, startHttpServerInThread, combineServiceDiscovery, createBackend];
export const backend: Backend | undefined = undefined;
export async function main(): Promise<void> {
  const server: MetricsHTTPServer = await startHttpServer({ ...options, serviceDiscovery: sd });
  const body = await (await fetch(server.url)).text();
  await server.close();
  console.log(body.split('\\n').find((l) => l.startsWith('ts_requests_total{')));
  console.log((await register.getSingleMetricAsString('ts_seconds')).split('\\n').at(-1));
}
`;
    const compilerOptions = {
      strict: true,
      skipLibCheck: false,
      target: 'ES2022',
      lib: ['ES2022', 'DOM'],
      types: ['node'],
      outDir: 'out',
    };
    const variants = [
      { name: 'ts-esm', type: 'module', module: 'nodenext', moduleResolution: 'nodenext', run: true },
      { name: 'ts-cjs', type: 'commonjs', module: 'nodenext', moduleResolution: 'nodenext', run: true },
      { name: 'ts-bundler', type: 'module', module: 'esnext', moduleResolution: 'bundler', run: false },
    ];
    for (const v of variants) {
      const root = join(app, v.name);
      write(join(root, 'package.json'), JSON.stringify({ type: v.type }));
      write(join(root, 'index.ts'), `${source}\nvoid main();\n`);
      write(
        join(root, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { ...compilerOptions, module: v.module, moduleResolution: v.moduleResolution },
          files: ['index.ts'],
        }),
      );
      const tsc = await run('node', [TSC, '-p', 'tsconfig.json'], root);
      expect(tsc.stdout + tsc.stderr, v.name).toBe('');
      expect(tsc.status, v.name).toBe(0);
      if (v.run) {
        const r = await run('node', [join('out', 'index.js')], root);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout, v.name).toBe('ts_requests_total{method="GET"} 2\nts_seconds_count 1\n');
      }
    }
  }, 180_000);

  it('runs the promsd command: `npx promsd --help` exits 0', async () => {
    const r = await run('npx', ['promsd', '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: promsd <command> [options]');
  });

  it('fails with one clear error naming the platform package when it is missing', async () => {
    const platformDir = join(app, 'node_modules', PLATFORM_PKG);
    renameSync(platformDir, `${platformDir}.away`);
    try {
      for (const file of ['cjs.cjs', 'esm.mjs']) {
        const r = await run('node', [file]);
        expect(r.status, file).not.toBe(0);
        expect(r.stdout, file).toBe('');
        const message = [
          `promsd: no native addon for platform linux, arch x64, libc glibc (${TRIPLE}).`,
          `Expected the package "${PLATFORM_PKG}", an optional dependency of promsd that npm installs on this platform: it is missing (installed with --omit=optional or --no-optional, or from a lockfile made on another platform?). Reinstall promsd without omitting optional dependencies.`,
          'Or build it from source: clone the promsd repository, run `npm install` in the clone (needs cargo, the Rust toolchain; it writes native/promsd.<triple>.node), then `npm install <path to the clone>` in your project.',
        ].join('\n');
        expect(r.stderr, file).toContain(`NativeAddonError: ${message}\n`);
        expect(r.stderr, file).not.toContain('npm has a bug');
      }
    } finally {
      renameSync(`${platformDir}.away`, platformDir);
    }
  });
});
