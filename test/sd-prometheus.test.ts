import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSD } from '../sd/file';
import { RedisHttpSD, httpSdNodeHandler } from '../sd/http';
import type { Deregister } from '../sd/types';
import { freePort, startRedis, startTarget, waitFor, type RedisProcess, type Target } from './fixtures/sd-helpers';

// End to end with a real client: Debian's Prometheus (built without Consul SD) discovers two
// servers through FileSD and two through HTTP SD backed by Redis, scrapes them (up == 1), and
// drops each one after it deregisters. Prometheus applies discovery updates at most every 5 s,
// so this takes about 10 s: two rounds of updates.

let redis: RedisProcess;
let prometheus: ChildProcess;
let promUrl: string;
let sdServer: Server;
const root = mkdtempSync(join(tmpdir(), 'promsd-sd-prom-'));
const targets: Target[] = [];

interface PromTarget {
  labels: Record<string, string>;
  health: string;
  scrapeUrl: string;
}

async function activeTargets(job: string): Promise<PromTarget[]> {
  const res = await fetch(`${promUrl}/api/v1/targets?state=active`);
  const body = (await res.json()) as { data: { activeTargets: PromTarget[] } };
  return body.data.activeTargets.filter((t) => t.labels.job === job);
}

async function upValues(): Promise<Record<string, string>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=up`);
  const body = (await res.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return Object.fromEntries(body.data.result.map((r) => [`${r.metric.job} ${r.metric.instance}`, r.value[1]]));
}

beforeAll(async () => {
  redis = await startRedis();
  const reader = new RedisHttpSD({ url: redis.url, prefix: 'e2e' });
  sdServer = createServer(httpSdNodeHandler(reader));
  await new Promise<void>((resolve) => sdServer.listen(0, '127.0.0.1', resolve));
  sdServer.on('close', () => void reader.close());
  const sdPort = (sdServer.address() as AddressInfo).port;
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const config = join(root, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 500ms',
      'scrape_configs:',
      '  - job_name: file',
      '    file_sd_configs:',
      `      - files: ['${join(root, 'targets')}/*.json']`,
      '        refresh_interval: 1s',
      '  - job_name: http',
      '    http_sd_configs:',
      `      - url: http://127.0.0.1:${sdPort}/sd`,
      '        refresh_interval: 1s',
      '',
    ].join('\n'),
  );
  prometheus = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(root, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  prometheus.once('error', (err) => {
    throw new Error(`cannot run prometheus (apt-get install -y prometheus): ${err.message}`);
  });
  await waitFor(
    'Prometheus ready',
    async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok,
    15_000,
    100,
  );
}, 30_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await new Promise<void>((resolve) =>
    prometheus?.exitCode !== null ? resolve() : prometheus.once('exit', () => resolve()),
  );
  await new Promise<void>((resolve) => sdServer?.close(() => resolve()));
  await Promise.all(targets.map((t) => t.close()));
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('Prometheus discovers promsd servers', () => {
  it('scrapes two FileSD and two HTTP SD servers (up == 1), and drops each after it deregisters', async () => {
    for (let i = 0; i < 4; i++) targets.push(await startTarget());
    const [f1, f2, h1, h2] = targets;
    const deregisters: Deregister[] = [
      await new FileSD({ dir: join(root, 'targets') }).register(f1.info),
      await new FileSD({ dir: join(root, 'targets') }).register(f2.info),
      await new RedisHttpSD({ url: redis.url, prefix: 'e2e', ttlSeconds: 5 }).register(h1.info),
      await new RedisHttpSD({ url: redis.url, prefix: 'e2e', ttlSeconds: 5 }).register(h2.info),
    ];
    const expected = {
      [`file 127.0.0.1:${f1.port}`]: '1',
      [`file 127.0.0.1:${f2.port}`]: '1',
      [`http 127.0.0.1:${h1.port}`]: '1',
      [`http 127.0.0.1:${h2.port}`]: '1',
    };
    await waitFor('up == 1 for all four', async () => sortedEqual(await upValues(), expected), 9000, 200);
    expect((await activeTargets('file')).every((t) => t.scrapeUrl.endsWith('/metrics'))).toBe(true);

    await deregisters[0]();
    await deregisters[2]();
    await waitFor(
      'the closed ones dropped',
      async () => (await activeTargets('file')).length === 1 && (await activeTargets('http')).length === 1,
      6000,
      200,
    );
    expect((await activeTargets('file'))[0].labels.instance).toBe(`127.0.0.1:${f2.port}`);
    expect((await activeTargets('http'))[0].labels.instance).toBe(`127.0.0.1:${h2.port}`);
    await deregisters[1]();
    await deregisters[3]();
  }, 25_000);
});

function sortedEqual(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(b);
  return Object.keys(a).length === keys.length && keys.every((k) => a[k] === b[k]);
}
