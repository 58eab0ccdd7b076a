import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderRedis } from '../index';
import { REDIS_SERVER, freePort, redisCommand, spawnChild, until } from './helpers/redis';

// rediss:// with a private CA, and AUTH from the URL's user:password.

const dir = mkdtempSync(join(tmpdir(), 'promsd-tls-'));
const procs: ChildProcess[] = [];
let tlsPort = 0;
let authPort = 0;
let ca = '';

function openssl(...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
}

beforeAll(async () => {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=promsd-test-ca',
  );
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.crt',
    '-days',
    '2',
    '-extfile',
    'ext',
  );
  ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  tlsPort = await freePort();
  authPort = await freePort();
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  procs.push(
    spawn(
      REDIS_SERVER,
      [
        '--port',
        '0',
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        join(dir, 'srv.crt'),
        '--tls-key-file',
        join(dir, 'srv.key'),
        '--tls-ca-cert-file',
        join(dir, 'ca.crt'),
        '--tls-auth-clients',
        'no',
        ...common,
      ],
      { stdio: 'ignore' },
    ),
    spawn(REDIS_SERVER, ['--port', String(authPort), '--requirepass', 's3cret', ...common], { stdio: 'ignore' }),
  );
  await until('auth server', async () => (await redisCommand(authPort, 'PING').catch(() => '')).startsWith('-NOAUTH'));
  await until('tls server', async () => {
    const r = spawnSync(
      'redis-cli',
      ['--tls', '--cacert', join(dir, 'ca.crt'), '-h', '127.0.0.1', '-p', String(tlsPort), 'PING'],
      { encoding: 'utf8' },
    );
    return r.stdout.startsWith('PONG');
  });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await once(p, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

const COUNTER = { type: 'counter', config: { name: 'sec_total', help: 'Sec.' } };

describe('TLS and AUTH', () => {
  it('flushes and reads over rediss:// with a private CA', async () => {
    const url = `rediss://127.0.0.1:${tlsPort}`;
    const child = spawnChild({
      url,
      tlsCa: ca,
      prefix: 'tls',
      metrics: [COUNTER],
      steps: [{ metric: 0, method: 'inc', times: 4 }],
    });
    expect(await child.exited).toBe(0);
    expect(await renderRedis({ url, prefix: 'tls', tlsCa: ca })).toBe(
      '# HELP sec_total Sec.\n# TYPE sec_total counter\nsec_total 4\n',
    );
    // Without the CA the handshake fails, and the error says so.
    await expect(renderRedis({ url, prefix: 'tls', timeoutMs: 1000 })).rejects.toThrow(
      `promsd: cannot connect to Redis at ${url}: tls: the TLS handshake failed (`,
    );
  });

  it("authenticates with the URL's password and never logs it", async () => {
    const url = `redis://:s3cret@127.0.0.1:${authPort}`;
    const child = spawnChild({
      url,
      prefix: 'auth',
      metrics: [COUNTER],
      steps: [{ metric: 0, method: 'inc', times: 6 }],
    });
    expect(await child.exited).toBe(0);
    expect(await renderRedis({ url, prefix: 'auth' })).toContain('sec_total 6\n');
    const bad = renderRedis({ url: `redis://:wrong@127.0.0.1:${authPort}`, prefix: 'auth' });
    await expect(bad).rejects.toThrow(
      `promsd: cannot connect to Redis at redis://:***@127.0.0.1:${authPort}: auth: authentication failed`,
    );
    await expect(bad).rejects.not.toThrow(/:wrong@/);
  });
});
