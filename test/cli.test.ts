import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulDouble } from './consul-double';
import { get } from './helpers/http';
import { freePort, type RedisServer, spawnChild, startRedis, until } from './helpers/redis';

// The `promsd` command as users run it: node dist/cli/main.js (package.json "bin").
const CLI = join(__dirname, '..', 'dist', 'cli', 'main.js');

/** Env without the caller's PROMSD_* / CONSUL_* settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('PROMSD_') && !k.startsWith('CONSUL_')) env[k] = v;
  return { ...env, ...extra };
}

function run(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: cleanEnv(env),
    encoding: 'utf8',
    timeout: 20_000,
    ...(cwd ? { cwd } : {}),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like `run`, without blocking this process (whose Consul double must keep answering). */
async function runAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | string; stdout: string; stderr: string }> {
  const r = new Running(args, env, process.cwd());
  const status = await r.exited;
  return { status, stdout: r.stdout, stderr: r.stderr };
}

/** A long-running command whose stdout is collected. */
class Running {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | string>;

  constructor(args: string[], env: Record<string, string>, cwd: string) {
    this.proc = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.proc.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r(code ?? sig ?? -1)));
  }

  async line(re: RegExp, ms = 15_000): Promise<RegExpExecArray> {
    let m: RegExpExecArray | null = null;
    await until(
      `output matching ${re} (stdout: ${this.stdout}; stderr: ${this.stderr})`,
      () => (m = re.exec(this.stdout)) !== null,
      ms,
    );
    return m as unknown as RegExpExecArray;
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'promsd-cli-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('promsd', () => {
  it('prints help, and refuses unknown commands and flags with exit code 2', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: promsd <command> [options]');
    for (const cmd of ['serve', 'demo', 'check']) {
      const r = run([cmd, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: promsd ${cmd} [options]`);
      expect(r.stdout).toContain('--redis-url <value>');
    }
    expect(run(['serve', '--help']).stdout).toContain('--require-backend');
    const unknown = run(['frobnicate']);
    expect([unknown.status, unknown.stderr.split('\n')[0]]).toEqual([2, 'promsd: unknown command "frobnicate"']);
    const flag = run(['check', '--prot', '1']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain("promsd check: Unknown option '--prot'");
  });

  it('check: reports every configuration problem at once and starts nothing (exit 2)', () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'promsd.config.json'), JSON.stringify({ backend: { flushIntervalMs: 1 } }));
    const r = run(['check', '--port', '70000'], { PROMSD_SD: 'consul,zk', PROMSD_LOG_LEVEL: 'loud' }, cwd);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('invalid configuration (4 problems):');
    expect(r.stderr).toContain('server.port = "70000" (from option): expected an integer from 0 to 65535');
    expect(r.stderr).toContain(
      `backend.flushIntervalMs = 1 (from file ${join(cwd, 'promsd.config.json')}): expected an integer from 10 to 600000`,
    );
    expect(r.stderr).toContain(
      'sd.kinds = ["consul","zk"] (from env PROMSD_SD): expected a comma-separated list of consul, file, http',
    );
    expect(r.stderr).toContain(
      'log.level = "loud" (from env PROMSD_LOG_LEVEL): expected debug | info | warn | error | silent',
    );
  });

  describe('with Redis and Consul', () => {
    let redis: RedisServer;
    const agent = new ConsulDouble();
    beforeAll(async () => {
      redis = await startRedis();
      await agent.start();
    });
    afterAll(async () => {
      await redis.kill();
      await agent.stop();
    });

    it('check: prints the configuration with secrets masked and tests Redis and Consul', async () => {
      const url = `redis://:hunter2@127.0.0.1:${await freePort()}`; // nothing listens there
      const bad = await runAsync(['check', '--json'], {
        PROMSD_REDIS_URL: url,
        PROMSD_SD: 'consul',
        CONSUL_HTTP_ADDR: agent.url,
        PROMSD_AUTH_TOKEN: 'tok',
      });
      const report = JSON.parse(bad.stdout) as {
        config: Record<string, Record<string, unknown>>;
        sources: Record<string, string>;
        checks: { ok: boolean; target: string }[];
      };
      expect(bad.stdout).not.toContain('hunter2');
      expect(bad.stdout).not.toContain('"tok"');
      expect(report.config.backend?.redisUrl).toMatch(/^redis:\/\/:\*\*\*@127\.0\.0\.1:\d+$/);
      expect(report.config.server?.authToken).toBe('***');
      expect(report.sources['backend.redisUrl']).toBe('env');
      expect(report.checks.map((c) => c.ok)).toEqual([false, true]);
      expect(bad.status).toBe(1);
      const good = await runAsync(['check'], {
        PROMSD_REDIS_URL: redis.url,
        PROMSD_SD: 'consul',
        CONSUL_HTTP_ADDR: agent.url,
      });
      expect(good.status).toBe(0);
      expect(good.stdout).toContain(`ok   redis redis://127.0.0.1:${redis.port}: PONG`);
      expect(good.stdout).toContain(`ok   consul ${agent.url}: agent answered`);
    });

    it('serve: exposes what two other processes wrote, registers in Consul, deregisters on SIGTERM', async () => {
      for (const amount of [3, 4]) {
        const child = spawnChild({
          url: redis.url,
          prefix: 'sidecar-cli',
          metrics: [{ type: 'counter', config: { name: 'cli_jobs_total', help: 'Jobs.', labelNames: ['queue'] } }],
          steps: [{ metric: 0, method: 'inc', labels: { queue: 'mail' }, value: amount }],
        });
        expect(await child.exited).toBe(0);
      }
      const port = await freePort();
      const serve = new Running(
        [
          'serve',
          '--port',
          String(port),
          '--addr',
          '127.0.0.1',
          '--prefix',
          'sidecar-cli',
          '--sd',
          'consul',
          '--service-name',
          'jobs-sidecar',
        ],
        { PROMSD_REDIS_URL: redis.url, CONSUL_HTTP_ADDR: agent.url, PROMSD_LOG_LEVEL: 'warn' },
        tempDir(),
      );
      try {
        await until('the sidecar registered', () =>
          [...agent.services.values()].some((s) => s.Service === 'jobs-sidecar'),
        );
        const body = (await get(`http://127.0.0.1:${port}/metrics`)).body.toString();
        expect(body).toContain(
          '# HELP cli_jobs_total Jobs.\n# TYPE cli_jobs_total counter\ncli_jobs_total{queue="mail"} 7\n',
        );
      } finally {
        serve.proc.kill('SIGTERM');
      }
      expect(await serve.exited).toBe(0);
      expect([...agent.services.values()].some((s) => s.Service === 'jobs-sidecar')).toBe(false);
    });

    it('serve --require-backend exits 69 when Redis is unreachable; without it, it serves anyway', async () => {
      const dead = `redis://127.0.0.1:${await freePort()}`;
      const strict = run(['serve', '--require-backend', '--port', '0'], { PROMSD_REDIS_URL: dead });
      expect(strict.status).toBe(69);
      expect(strict.stderr).toContain('promsd serve: cannot use Redis: refused: connection refused');
      expect(strict.stderr).toContain('exiting because of --require-backend');
      const port = await freePort();
      const lenient = new Running(
        ['serve', '--port', String(port), '--addr', '127.0.0.1'],
        { PROMSD_REDIS_URL: dead, PROMSD_LOG_LEVEL: 'warn' },
        tempDir(),
      );
      try {
        await until(
          'the server answers',
          async () => (await get(`http://127.0.0.1:${port}/healthz`).catch(() => ({ status: 0 }))).status === 200,
        );
        expect(lenient.stderr).toContain('serving anyway');
      } finally {
        lenient.proc.kill('SIGTERM');
      }
      expect(await lenient.exited).toBe(0);
    });
  });

  it('demo: two workers aggregated on the embedded backend; SIGINT leaves no targets file and no process', async () => {
    const cwd = tempDir();
    const demo = new Running(
      ['demo', '--workers', '2', '--app-port', '0', '--rps', '200', '--port', '0', '--addr', '127.0.0.1'],
      { PROMSD_LOG_LEVEL: 'warn' },
      cwd,
    );
    try {
      const url = (await demo.line(/^metrics: (\S+)$/m))[1] as string;
      const pids = ((await demo.line(/^workers: ([\d ]+)$/m))[1] as string).split(' ').map(Number);
      expect(pids).toHaveLength(2);
      const targets = join(cwd, '.promsd', 'targets');
      await until('the targets file', () => existsSync(targets) && readdirSync(targets).length === 1);
      // Both workers' handled requests show up in the primary's scrape.
      let body = '';
      await until(
        'requests from both workers',
        async () => {
          body = (await get(url)).body.toString();
          return (
            /demo_handled_total\{worker="1"\} [1-9]/.test(body) && /demo_handled_total\{worker="2"\} [1-9]/.test(body)
          );
        },
        15_000,
      );
      expect(body).toMatch(/http_requests_total\{method="GET",route="\/api\/users\/:id",status="200"\} \d+/);
      const handled = [...body.matchAll(/demo_handled_total\{worker="\d"\} (\d+)/g)].reduce(
        (s, m) => s + Number(m[1]),
        0,
      );
      const requests = [...body.matchAll(/^http_requests_total\{[^}]*\} (\d+)$/gm)].reduce(
        (s, m) => s + Number(m[1]),
        0,
      );
      expect(handled).toBeGreaterThan(0);
      expect(Math.abs(requests - handled)).toBeLessThanOrEqual(handled * 0.2 + 20); // the same requests, seen by two metrics
      await demo.line(/req\/s {2}p99 /);
      demo.proc.kill('SIGINT');
      expect(await demo.exited).toBe(0);
      expect(readdirSync(targets)).toEqual([]);
      for (const pid of pids) expect(alive(pid)).toBe(false);
    } finally {
      if (demo.proc.exitCode === null) demo.proc.kill('SIGKILL');
    }
  });
});
