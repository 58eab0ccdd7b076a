import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidSdOptionError } from '../errors';
import { FileSD, type FileSDOptions } from '../sd/file';
import type { MetricsServerInfo } from '../sd/types';
import { startTarget, type Target } from './fixtures/sd-helpers';

// FileSD against the real filesystem, and the result checked by Prometheus's own promtool.

const root = mkdtempSync(join(tmpdir(), 'promsd-sd-file-'));
const targets: Target[] = [];
let n = 0;

function freshDir(): string {
  return join(root, `case-${++n}`);
}

async function target(addr?: string): Promise<Target> {
  const t = await startTarget(addr);
  targets.push(t);
  return t;
}

function info(port: number, extra: Partial<MetricsServerInfo> = {}): MetricsServerInfo {
  return {
    socket: { addr: '127.0.0.1', port },
    url: `http://127.0.0.1:${port}/metrics`,
    path: '/metrics',
    https: false,
    healthPath: '/healthz',
    ...extra,
  };
}

afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('FileSD', () => {
  it('writes <dir>/<serviceId>.json in file_sd format, creating the directory, and deletes it on deregister', async () => {
    const t = await target();
    const dir = join(freshDir(), 'nested', 'targets');
    const sd = new FileSD({ dir });
    const deregister = await sd.register(t.info);
    const id = `metrics-${hostname()}-${t.port}`.replace(/[^A-Za-z0-9._-]/g, '-');
    expect(sd.file).toBe(join(dir, `${id}.json`));
    expect(sd.isRegistered).toBe(true);
    expect(readFileSync(join(dir, `${id}.json`), 'utf8')).toBe(
      `[\n  {\n    "targets": [\n      "127.0.0.1:${t.port}"\n    ],\n    "labels": {\n      "__metrics_path__": "/metrics",\n      "__scheme__": "http"\n    }\n  }\n]\n`,
    );
    expect(readdirSync(dir)).toEqual([`${id}.json`]);
    await deregister();
    expect(existsSync(join(dir, `${id}.json`))).toBe(false);
    expect(sd.isRegistered).toBe(false);
    await deregister(); // idempotent, and a file already gone is fine
  });

  it('adds user labels after __metrics_path__ and __scheme__, and uses the serviceId as the file name', async () => {
    const dir = freshDir();
    const sd = new FileSD({ dir, serviceId: 'checkout-7', labels: { job: 'checkout', env: 'prod' } });
    await sd.register(info(9464, { https: true, path: '/internal/metrics' }));
    expect(JSON.parse(readFileSync(join(dir, 'checkout-7.json'), 'utf8'))).toEqual([
      {
        targets: ['127.0.0.1:9464'],
        labels: { __metrics_path__: '/internal/metrics', __scheme__: 'https', job: 'checkout', env: 'prod' },
      },
    ]);
  });

  it("writes the host's first non-internal IPv4 for a wildcard bind, brackets for IPv6, and the address option as given", async () => {
    const external =
      Object.values(networkInterfaces())
        .flat()
        .find((a) => a && !a.internal && a.family === 'IPv4')?.address ?? '127.0.0.1';
    const dir = freshDir();
    await new FileSD({ dir, serviceId: 'a' }).register(info(1001, { socket: { addr: '0.0.0.0', port: 1001 } }));
    await new FileSD({ dir, serviceId: 'b' }).register(info(1002, { socket: { addr: '::1', port: 1002 } }));
    await new FileSD({ dir, serviceId: 'c', address: 'metrics.internal' }).register(info(1003));
    const read = (id: string) =>
      (JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as { targets: string[] }[])[0].targets;
    expect(read('a')).toEqual([`${external}:1001`]);
    expect(read('b')).toEqual(['[::1]:1002']);
    expect(read('c')).toEqual(['metrics.internal:1003']);
  });

  it('replaces an existing file by rename (a new inode), never by rewriting it in place, and leaves no temp file', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    const file = join(dir, 'svc.json');
    writeFileSync(file, '[]\n');
    const before = statSync(file).ino;
    await new FileSD({ dir, serviceId: 'svc' }).register(info(2001));
    expect(statSync(file).ino).not.toBe(before);
    expect(readdirSync(dir)).toEqual(['svc.json']);
  });

  it('many instances share one directory; a reader never sees a partial file; each removes only its own', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    let reads = 0;
    let reading = true;
    // A reader that parses every *.json as fast as it can while 40 instances register.
    const reader = (async () => {
      while (reading) {
        for (const name of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
          try {
            JSON.parse(readFileSync(join(dir, name), 'utf8'));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
          reads++;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const deregisters = await Promise.all(
      Array.from({ length: 40 }, (_, i) => new FileSD({ dir }).register(info(3000 + i))),
    );
    reading = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(40);
    expect(readdirSync(dir).every((f) => f.endsWith('.json'))).toBe(true);
    await deregisters[0]();
    expect(readdirSync(dir)).toHaveLength(39);
    await Promise.all(deregisters.slice(1).map((d) => d()));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('Prometheus accepts the directory: promtool check config validates the SD files', async () => {
    const dir = freshDir();
    await new FileSD({ dir, serviceId: 'one', labels: { job: 'checkout', team: 'payments' } }).register(info(4001));
    await new FileSD({ dir, serviceId: 'two' }).register(info(4002, { https: true }));
    const config = join(root, `prometheus-${n}.yml`);
    writeFileSync(
      config,
      `scrape_configs:\n  - job_name: promsd\n    file_sd_configs:\n      - files: ['${dir}/*.json']\n`,
    );
    const r = spawnSync('promtool', ['check', 'config', config], { encoding: 'utf8', timeout: 20_000 });
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      throw new Error('promtool is not on PATH; install it with: apt-get install -y prometheus');
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('rejects a directory it cannot create, with the path in the error', async () => {
    const dir = freshDir();
    writeFileSync(dir, 'a file, not a directory');
    await expect(new FileSD({ dir: join(dir, 'sub') }).register(info(5001))).rejects.toThrow(/EEXIST|ENOTDIR/);
  });

  it('refuses a second register() on the same instance', async () => {
    const sd = new FileSD({ dir: freshDir() });
    await sd.register(info(5002));
    await expect(sd.register(info(5003))).rejects.toThrow(
      'FileSD: register() was already called; use one FileSD per metrics server',
    );
  });

  const bad: [string, unknown, string][] = [
    ['no options', undefined, 'FileSD: dir is required'],
    ['no dir', { labels: {} }, 'FileSD: dir is required (the directory Prometheus file_sd_configs watches)'],
    ['dir not a string', { dir: 42 }, 'FileSD: dir must be a non-empty string, got 42'],
    [
      'unknown option',
      { dir: '/tmp/x', label: {} },
      'FileSD: unknown option "label" (known: dir, labels, serviceId, address)',
    ],
    [
      'labels not an object',
      { dir: '/tmp/x', labels: ['job'] },
      'FileSD: labels must be an object of string values, got ["job"]',
    ],
    [
      'invalid label name',
      { dir: '/tmp/x', labels: { 'bad-label': 'x' } },
      'FileSD: labels: key "bad-label" is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)',
    ],
    [
      'label name starting with a digit',
      { dir: '/tmp/x', labels: { '1job': 'x' } },
      'FileSD: labels: key "1job" is not a valid Prometheus label name',
    ],
    [
      'label value not a string',
      { dir: '/tmp/x', labels: { job: 3 } },
      'FileSD: labels: value of "job" must be a string, got 3',
    ],
    [
      'serviceId escaping the directory',
      { dir: '/tmp/x', serviceId: '../evil' },
      'FileSD: serviceId must be 1-200 letters, digits, ".", "_" or "-" not starting with "." or "-" (it names a file), got "../evil"',
    ],
    ['hidden serviceId', { dir: '/tmp/x', serviceId: '.hidden' }, 'FileSD: serviceId must be 1-200 letters'],
    ['empty address', { dir: '/tmp/x', address: '' }, 'FileSD: address must be a non-empty string, got ""'],
  ];
  it.each(bad)('%s is refused with a clear error', (_what, options, message) => {
    expect(() => new FileSD(options as FileSDOptions)).toThrow(InvalidSdOptionError);
    expect(() => new FileSD(options as FileSDOptions)).toThrow(message);
  });

  it('rejects a server info that is not one', async () => {
    await expect(new FileSD({ dir: freshDir() }).register({} as MetricsServerInfo)).rejects.toThrow(
      'FileSD.register(server): server must be a MetricsServerInfo',
    );
  });
});
