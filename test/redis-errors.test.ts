import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { IoredisBackend, type Logger, RedisBackend, loadBackend, register } from '../index';
import { getBackend } from '../backend/load';
import { pingRedis } from '../cli/runtime';
import { REDIS_SERVER, freePort, redisCommand, until } from './helpers/redis';

// Errors keep their cause: a wrong or missing password, a refused port, an unresolvable host and
// a server that never answers are each named (log lines, flush() rejections, `promsd check` and
// `promsd serve`), and a storm of one cause is a handful of lines, not one per flush.

const CLI = join(__dirname, '..', 'dist', 'cli', 'main.js');
let authPort = 0;
let redisProc: ChildProcess;
let silent: Server;
let silentPort = 0;
const sockets: Socket[] = [];

beforeAll(async () => {
  authPort = await freePort();
  redisProc = spawn(
    REDIS_SERVER,
    ['--port', String(authPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 's3cret'],
    { stdio: 'ignore' },
  );
  await until('redis-server with requirepass answers', async () =>
    (await redisCommand(authPort, 'PING').catch(() => '')).startsWith('-NOAUTH'),
  );
  // Accepts connections and never answers: the timeout case.
  silent = createServer((s) => void sockets.push(s));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  silentPort = (silent.address() as { port: number }).port;
});
afterAll(async () => {
  redisProc.kill('SIGKILL');
  for (const s of sockets) s.destroy();
  silent.close();
});
afterEach(async () => {
  await getBackend()
    ?.close({ timeoutMs: 1000 })
    .catch(() => undefined);
  register.clear();
});

function capture(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

const AUTH = 'auth: authentication failed (wrong or missing password, or the ACL user may not do this)';

describe('errors that keep their cause', () => {
  it('names the cause of each failure, with the password masked', async () => {
    const refusedPort = await freePort();
    const cases: [string, string][] = [
      [`redis://:wrong@127.0.0.1:${authPort}`, `${AUTH} (Password authentication failed - AuthenticationFailed)`],
      [`redis://127.0.0.1:${authPort}`, `${AUTH} ("NOAUTH": Authentication required.)`],
      [
        `redis://127.0.0.1:${refusedPort}`,
        'refused: connection refused (nothing listens there) (Connection refused (os error 111))',
      ],
      [`redis://127.0.0.1:${silentPort}`, 'timeout: no answer within the timeout (300 ms)'],
    ];
    for (const [url, why] of cases) {
      expect(await pingRedis(url, 300)).toEqual({ cause: why.split(':')[0], message: why });
    }
    const dns = await pingRedis('redis://promsd-test.invalid:6379', 2000);
    expect(dns?.cause).toBe('dns');
    expect(dns?.message.startsWith('dns: the host name does not resolve (')).toBe(true);
    expect(await pingRedis(`redis://:s3cret@127.0.0.1:${authPort}`, 300)).toBeNull();
  });

  it('rejects flush() with the cause and logs a wrong password once, not once per flush', async () => {
    const { lines, logger } = capture();
    const backend = loadBackend(
      new RedisBackend({ url: `redis://u:wrong@127.0.0.1:${authPort}`, flushIntervalMs: 50, timeoutMs: 300, logger }),
    );
    await expect(backend.flush()).rejects.toThrow(
      `promsd: cannot connect to Redis at redis://u:***@127.0.0.1:${authPort}: auth: authentication failed`,
    );
    // ~40 flushes in 2 s.
    await new Promise((r) => setTimeout(r, 2000));
    expect(lines).toEqual([
      `error promsd: cannot connect to Redis at redis://u:***@127.0.0.1:${authPort}: ${AUTH} (Password authentication failed - AuthenticationFailed)`,
    ]);
  });

  it('logs a missing password once too (no "connected" before each failure)', async () => {
    const { lines, logger } = capture();
    loadBackend(
      new RedisBackend({ url: `redis://127.0.0.1:${authPort}`, flushIntervalMs: 50, timeoutMs: 300, logger }),
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect(lines).toEqual([
      `error promsd: cannot connect to Redis at redis://127.0.0.1:${authPort}: ${AUTH} ("NOAUTH": Authentication required.)`,
    ]);
  });

  it('the ioredis twin names each cause by the same rule, and logs a storm of one cause once', async () => {
    const refusedPort = await freePort();
    const cases: [string, string, string][] = [
      [
        `redis://u:wrong@127.0.0.1:${authPort}`,
        `redis://u:***@127.0.0.1:${authPort}`,
        `${AUTH} (WRONGPASS invalid username-password pair or user is disabled.)`,
      ],
      [`redis://127.0.0.1:${authPort}`, `redis://127.0.0.1:${authPort}`, `${AUTH} (NOAUTH Authentication required.)`],
      [
        `redis://127.0.0.1:${refusedPort}`,
        `redis://127.0.0.1:${refusedPort}`,
        `refused: connection refused (nothing listens there) (connect ECONNREFUSED 127.0.0.1:${refusedPort})`,
      ],
      [
        'redis://promsd-test.invalid:6379',
        'redis://promsd-test.invalid:6379',
        'dns: the host name does not resolve (getaddrinfo ENOTFOUND promsd-test.invalid)',
      ],
    ];
    for (const [url, shown, why] of cases) {
      const { lines, logger } = capture();
      const backend = loadBackend(new IoredisBackend({ url, flushIntervalMs: 50, timeoutMs: 300, logger }));
      const line = `promsd: cannot connect to Redis at ${shown}: ${why}`;
      await expect(backend.flush()).rejects.toThrow(line);
      // ~10 flushes in 0.5 s: one line.
      await new Promise((r) => setTimeout(r, 500));
      expect(lines).toEqual([`error ${line}`]);
      await backend.close({ timeoutMs: 300 }).catch(() => undefined);
    }
  });

  it('promsd check and promsd serve say which cause', () => {
    const check = spawnSync(process.execPath, [CLI, 'check'], {
      env: { PATH: process.env.PATH, PROMSD_REDIS_URL: `redis://:badpass@127.0.0.1:${authPort}` },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(check.status).toBe(1);
    expect(check.stdout).toContain(
      `FAIL redis redis://:***@127.0.0.1:${authPort}: ${AUTH} (Password authentication failed - AuthenticationFailed)\n`,
    );
    expect(check.stdout).not.toContain('badpass');
    const serve = spawnSync(process.execPath, [CLI, 'serve', '--require-backend', '--port', '0'], {
      env: { PATH: process.env.PATH, PROMSD_REDIS_URL: `redis://127.0.0.1:${authPort}` },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(serve.status).toBe(69);
    expect(serve.stderr).toContain(
      `promsd serve: cannot use Redis: ${AUTH} ("NOAUTH": Authentication required.); exiting because of --require-backend`,
    );
  });

  it('a malformed Redis URL is a configuration error: exit 2, the key named, the password masked', () => {
    for (const [url, why] of [
      ['redis://u:pw@127.0.0.1:99999', 'has a port (99999) outside 1 to 65535'],
      [
        'redis://u:pw@[::1',
        'does not parse as a URL (check the host, the brackets of an IPv6 address, and %-encode special characters of the password)',
      ],
    ] as const) {
      for (const cmd of ['check', 'serve']) {
        const r = spawnSync(process.execPath, [CLI, cmd], {
          env: { PATH: process.env.PATH, PROMSD_REDIS_URL: url },
          encoding: 'utf8',
          timeout: 20_000,
        });
        expect(r.status).toBe(2);
        expect(r.stderr).toContain(
          `backend.redisUrl = "${url.replace(':pw@', ':***@')}" (from env PROMSD_REDIS_URL): expected a redis:// or rediss:// URL; this one ${why}`,
        );
        expect(r.stderr).not.toContain('pw@');
      }
    }
  });

  it('RedisBackend refuses a malformed URL naming the option, with the password masked', () => {
    expect(() => new RedisBackend({ url: 'redis://u:pw@127.0.0.1:99999' })).toThrow(
      'RedisBackend: url has a port (99999) outside 1 to 65535, got "redis://u:***@127.0.0.1:99999"',
    );
  });
});
