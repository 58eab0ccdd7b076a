// Packs promsd the way the napi-rs ecosystem publishes a native package: the main package
// (JavaScript, types, Lua scripts; no binary, no install script) and one promsd-<triple> package
// per binary built on this machine, from npm/<triple>/ (what `napi create-npm-dirs` made; this
// script does the part of `napi artifacts`: copy the built .node into its npm dir).
//
//   npm run pack:all                  build, then pack into ./pack/
//   node scripts/pack.mjs --out DIR   pack what is built into DIR
//
// The main package is staged: the files `npm pack` takes from the clone minus native/*.node, and a
// manifest that is the repository's package.json with what only a clone uses taken
// out (scripts — `prepare` builds a clone from source —, devDependencies, overrides, napi) and
// optionalDependencies added: one promsd-<triple> per npm/ dir, at the same version. They are
// added here, as `napi prepublish` does, not in the repository: until they are published, npm ci
// in a clone would reject a lockfile that cannot resolve them.
//
// Prints one line per tarball: its path and size. To publish: `npm publish` each tarball,
// the platform packages first.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = resolve(outAt >= 0 && args[outAt + 1] ? args[outAt + 1] : join(root, 'pack'));

function fail(message) {
  console.error(`pack: ${message}`);
  process.exit(1);
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const main = readJson(join(root, 'package.json'));
if (!existsSync(join(root, 'dist', 'index.js')) || !existsSync(join(root, 'dist', 'index.mjs'))) {
  fail('dist/ is not built: run `npm run build` (or `npm run pack:all`)');
}

// Every npm/<triple>/ is a platform package at the main package's version (`napi version` keeps
// them in step).
const dirs = readdirSync(join(root, 'npm')).filter((d) => existsSync(join(root, 'npm', d, 'package.json')));
for (const d of dirs) {
  const pkg = readJson(join(root, 'npm', d, 'package.json'));
  if (pkg.name !== `promsd-${d}`) fail(`npm/${d}/package.json is named ${pkg.name}, expected promsd-${d}`);
  if (pkg.version !== main.version) fail(`${pkg.name} is at ${pkg.version}, promsd at ${main.version}`);
}

const built = readdirSync(join(root, 'native'))
  .map((f) => /^promsd\.(.+)\.node$/.exec(f)?.[1])
  .filter((t) => t !== undefined);
if (built.length === 0) fail('no native/promsd.<triple>.node: run `npm run build:native`');
const platformDirs = [];
for (const triple of built) {
  if (!dirs.includes(triple))
    fail(
      `native/promsd.${triple}.node has no npm/${triple}/ (add its target to package.json napi.targets and run \`napi create-npm-dirs\`)`,
    );
  copyFileSync(join(root, 'native', `promsd.${triple}.node`), join(root, 'npm', triple, `promsd.${triple}.node`));
  copyFileSync(join(root, 'LICENSE'), join(root, 'npm', triple, 'LICENSE'));
  platformDirs.push(join(root, 'npm', triple));
}

// The main package, staged: the files npm would pack from the repository, the published manifest.
function stageMain() {
  const [listed] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
  );
  const stage = mkdtempSync(join(tmpdir(), 'promsd-pack-'));
  // A clone's own binary is packed by a plain `npm pack` (a tarball for this platform only); the
  // release ships it in the platform packages instead.
  for (const { path } of listed.files.filter((f) => !/^native\/[^/]+\.node$/.test(f.path))) {
    mkdirSync(dirname(join(stage, path)), { recursive: true });
    copyFileSync(join(root, path), join(stage, path));
  }
  const { scripts, devDependencies, overrides, napi, ...manifest } = main;
  manifest.optionalDependencies = Object.fromEntries(dirs.sort().map((d) => [`promsd-${d}`, main.version]));
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return stage;
}

mkdirSync(out, { recursive: true });
const stage = stageMain();
for (const dir of [stage, ...platformDirs]) {
  // --ignore-scripts: `prepare` would build again; what is packed is what is built.
  const [info] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const file = join(out, info.filename);
  console.log(
    `${file}\t${(statSync(file).size / 1024).toFixed(0)} kB packed, ${(info.unpackedSize / 1024).toFixed(0)} kB unpacked, ${info.entryCount} files`,
  );
}
rmSync(stage, { recursive: true, force: true });
