import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, configTable, maskedConfig, resolveConfig, serverEnv } from '../config/index';
import * as promsd from '../index';

const dirs: string[] = [];
function dirWith(file?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'promsd-config-'));
  dirs.push(dir);
  if (file !== undefined)
    writeFileSync(join(dir, 'promsd.config.json'), typeof file === 'string' ? file : JSON.stringify(file));
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveConfig', () => {
  it('has defaults that need nothing (the embedded backend, no SD)', () => {
    const { config, sources, file } = resolveConfig({ env: {}, cwd: dirWith() });
    expect(config).toEqual({
      server: { port: 9464, addr: '0.0.0.0', path: '/metrics', compression: true },
      backend: { kind: 'embedded', prefix: 'promsd', flushIntervalMs: 1000, selfMetrics: false },
      sd: { kinds: [], fileDir: './.promsd/targets', serviceName: 'app-metrics' },
      consul: {},
      log: { level: 'info', format: 'text' },
    });
    expect(sources['server.port']).toBe('default');
    expect(file).toBeUndefined();
  });

  it('resolves options > env > file > defaults, and records each source', () => {
    const cwd = dirWith({
      server: { port: 1111, path: '/file' },
      backend: { prefix: 'fromfile' },
      log: { level: 'debug' },
    });
    const { config, sources, file } = resolveConfig({
      cwd,
      env: {
        PROMSD_PORT: '2222',
        PROMSD_PATH: '/env',
        PROMSD_REDIS_URL: 'redis://127.0.0.1:6379',
        PROMSD_SD: 'consul, file',
      },
      options: { server: { port: 3333 } },
    });
    expect(config.server.port).toBe(3333);
    expect(config.server.path).toBe('/env');
    expect(config.backend.prefix).toBe('fromfile');
    expect(config.log.level).toBe('debug');
    expect(config.backend.kind).toBe('redis');
    expect(config.sd.kinds).toEqual(['consul', 'file']);
    expect(sources).toMatchObject({
      'server.port': 'option',
      'server.path': 'env',
      'backend.prefix': 'file',
      'log.level': 'file',
      'server.addr': 'default',
      'backend.redisUrl': 'env',
    });
    expect(file).toBe(join(cwd, 'promsd.config.json'));
  });

  it('reads Consul’s own environment variables', () => {
    const { config } = resolveConfig({
      cwd: dirWith(),
      env: {
        CONSUL_HTTP_ADDR: 'https://consul.local:8501',
        CONSUL_HTTP_TOKEN: 't',
        CONSUL_HTTP_SSL: 'true',
        CONSUL_HTTP_SSL_VERIFY: '0',
      },
    });
    expect(config.consul).toEqual({ addr: 'https://consul.local:8501', token: 't', ssl: true, sslVerify: false });
  });

  it('reports every bad value at once: key, source, value, expectation', () => {
    const cwd = dirWith({ backend: { flushIntervalMs: 5 }, sd: { serviceName: 'bad name' } });
    expect(
      problems(() =>
        resolveConfig({
          cwd,
          env: { PROMSD_PORT: 'abc', PROMSD_BACKEND: 'mongo', PROMSD_LOG_LEVEL: 'loud', PROMSD_SD: 'consul,zookeeper' },
          options: { server: { path: 'metrics' } },
        }),
      ),
    ).toEqual([
      'server.port = "abc" (from env PROMSD_PORT): expected an integer from 0 to 65535',
      'server.path = "metrics" (from option): expected an absolute URL path other than /, /healthz and /sd',
      'backend.kind = "mongo" (from env PROMSD_BACKEND): expected memory | embedded | redis | ioredis',
      `backend.flushIntervalMs = 5 (from file ${join(cwd, 'promsd.config.json')}): expected an integer from 10 to 600000`,
      'sd.kinds = ["consul","zookeeper"] (from env PROMSD_SD): expected a comma-separated list of consul, file, http',
      `sd.serviceName = "bad name" (from file ${join(cwd, 'promsd.config.json')}): expected a name of letters, digits, _ . -`,
      'log.level = "loud" (from env PROMSD_LOG_LEVEL): expected debug | info | warn | error | silent',
    ]);
  });

  it('never prints secrets in errors', () => {
    const lines = problems(() =>
      resolveConfig({
        cwd: dirWith(),
        env: { PROMSD_REDIS_URL: 'http://user:hunter2@redis:6379', PROMSD_AUTH_TOKEN: '' },
      }),
    );
    // An empty token is an error (it would otherwise silently mean "no auth"); it is shown as "".
    expect(lines).toEqual([
      'server.authToken = "" (from env PROMSD_AUTH_TOKEN): expected a non-empty token',
      'backend.redisUrl = "http://user:***@redis:6379" (from env PROMSD_REDIS_URL): expected a redis:// or rediss:// URL',
    ]);
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it('refuses unknown keys and malformed files', () => {
    const cwd = dirWith({ server: { prot: 1 }, sever: { port: 1 } });
    const lines = problems(() => resolveConfig({ cwd, env: {} }));
    expect(lines[0]).toMatch(
      /^server\.prot \(from file .*promsd\.config\.json\): unknown key; known keys: server\.port, /,
    );
    expect(lines[1]).toMatch(/^sever\.port \(from file .*\): unknown key/);
    const bad = dirWith('{ "server": ');
    expect(problems(() => resolveConfig({ cwd: bad, env: {} }))[0]).toMatch(
      /^config file .*promsd\.config\.json: not valid JSON: /,
    );
    expect(problems(() => resolveConfig({ cwd: bad, env: {}, configFile: 'nope.json' }))[0]).toMatch(
      /^config file .*nope\.json: cannot read it: ENOENT/,
    );
    expect(problems(() => resolveConfig({ env: {}, options: { server: 5 } as never, cwd: dirWith() }))).toEqual([
      'server (from options): expected an object, got 5',
    ]);
  });

  it('checks rules across keys', () => {
    expect(problems(() => resolveConfig({ cwd: dirWith(), env: { PROMSD_TLS_CERT: '/c.pem' } }))).toEqual([
      'server.tlsKey is missing (from any source): server.tlsCert (from env PROMSD_TLS_CERT) needs it for HTTPS',
    ]);
    expect(problems(() => resolveConfig({ cwd: dirWith(), env: { PROMSD_BACKEND: 'redis' } }))).toEqual([
      'backend.redisUrl is missing (set PROMSD_REDIS_URL): backend.kind = "redis" (from env PROMSD_BACKEND) needs it',
    ]);
    expect(problems(() => resolveConfig({ cwd: dirWith(), env: { PROMSD_SD: 'http,http' } }))).toEqual([
      'sd.kinds includes "http" (from env PROMSD_SD): HTTP SD lists instances through Redis; set backend.redisUrl (PROMSD_REDIS_URL)',
      'sd.kinds = ["http","http"] (from env PROMSD_SD): lists a kind twice',
    ]);
  });

  it('masks secrets for printing', () => {
    const { config } = resolveConfig({
      cwd: dirWith(),
      env: { PROMSD_REDIS_URL: 'redis://app:hunter2@redis:6379/0', PROMSD_AUTH_TOKEN: 'tok', CONSUL_HTTP_TOKEN: 'ct' },
    });
    const masked = maskedConfig(config);
    expect(masked.backend.redisUrl).toBe('redis://app:***@redis:6379/0');
    expect(masked.server.authToken).toBe('***');
    expect(masked.consul.token).toBe('***');
    expect(config.server.authToken).toBe('tok');
  });

  it('the README configuration table is the one generated from the schema', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(m?.[1]).toBe(configTable());
  });
});

describe('the public entry', () => {
  it('exports resolveConfig and ConfigError so apps reuse the schema, its precedence and its messages', () => {
    const { config, sources } = promsd.resolveConfig({
      options: { server: { port: 9100 } },
      env: { PROMSD_PORT: '9200', PROMSD_ADDR: '127.0.0.1' },
      configFile: false,
    });
    expect([config.server.port, sources['server.port'], config.server.addr, sources['server.addr']]).toEqual([
      9100,
      'option',
      '127.0.0.1',
      'env',
    ]);
    expect(serverEnv({ PROMSD_PATH: '/m', PROMSD_REDIS_URL: 'not checked here' })).toEqual({ path: '/m' });
    expect(() => promsd.resolveConfig({ env: { PROMSD_PORT: '-1' }, configFile: false })).toThrow(promsd.ConfigError);
    expect(typeof promsd.setLogger).toBe('function');
  });
});
