import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ROOT, requireBuild } from './helpers/build';
import { APP, fetchText, hit, samples, until, watch } from './helpers/onehost';
import { freePort } from './helpers/redis';

// Real PM2, with a PM2_HOME of its own: under PM2 no user code runs as a primary, so the
// instances elect their holder among themselves, and a rolling restart hands it over.

const run = promisify(execFile);
const PM2 = join(ROOT, 'node_modules', '.bin', 'pm2');
const home = mkdtempSync(join(tmpdir(), 'promsd-pm2-'));
const pm2 = (...args: string[]) =>
  run(PM2, args, { env: { ...process.env, PM2_HOME: home, PROMSD_AGGREGATOR_SOCKET: '' }, timeout: 20_000 });

beforeAll(() => requireBuild());
afterAll(async () => {
  await pm2('kill').catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

/** Writes an ecosystem file for `app` and returns its path. */
function ecosystem(name: string, app: Record<string, unknown>): string {
  const file = join(home, `${name}.config.js`);
  const config = {
    apps: [
      {
        name,
        script: APP,
        kill_timeout: 5000,
        ...app,
        env: { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, OH_PREFIX: name, ...(app.env as object) },
      },
    ],
  };
  writeFileSync(file, `module.exports = ${JSON.stringify(config, null, 2)};\n`);
  return file;
}

const total = async (port: number) => samples((await fetchText(port, '/metrics')) ?? '').get('oh_requests_total');

async function online(name: string, n: number): Promise<void> {
  await until(
    `${n} ${name} instances online`,
    async () => {
      const list = JSON.parse((await pm2('jlist')).stdout) as { name: string; pm2_env: { status: string } }[];
      return list.filter((p) => p.name === name && p.pm2_env.status === 'online').length === n;
    },
    15_000,
  );
}

describe('under PM2', () => {
  it('cluster mode: 3 instances aggregate exactly from any instance, and a rolling reload decreases nothing', async () => {
    const port = await freePort();
    await pm2(
      'start',
      ecosystem('ohc', { exec_mode: 'cluster', instances: 3, env: { PORT: String(port), OH_GRACEFUL: '1' } }),
    );
    await online('ohc', 3);
    await until('listening', async () => (await fetchText(port, '/holder')) !== undefined);
    await hit(port, 90);
    await until('the aggregate', async () => (await total(port)) === 90);
    // Round-robin: these scrapes are answered by different instances.
    for (let i = 0; i < 6; i++) expect(await total(port)).toBe(90);
    const scrapes = watch(() => port, 200);
    let during = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        if ((await fetchText(port, '/hit')) === 'ok') during++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await pm2('reload', 'ohc');
    await online('ohc', 3);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await load;
    await until('the aggregate after the reload', async () => (await total(port)) === 90 + during, 5000);
    await scrapes.stop();
    expect(during).toBeGreaterThan(10);
    expect(scrapes.scrapes).toBeGreaterThan(5);
    expect(scrapes.decreases).toEqual([]);
    await pm2('delete', 'ohc');
  });

  it('fork mode: 2 instances on ports of their own aggregate exactly', async () => {
    const base = await freePort();
    await pm2('start', ecosystem('ohf', { exec_mode: 'fork', instances: 2, env: { PORT_BASE: String(base) } }));
    await online('ohf', 2);
    const ports = [base, base + 1];
    for (const p of ports) await until(`listening on ${p}`, async () => (await fetchText(p, '/holder')) !== undefined);
    await hit(ports[0], 12);
    await hit(ports[1], 30);
    for (const p of ports) await until(`the aggregate on ${p}`, async () => (await total(p)) === 42);
    const holders = await Promise.all(ports.map((p) => fetchText(p, '/holder')));
    expect(holders.sort()).toEqual(['0', '1']);
    await pm2('delete', 'ohf');
  });
});
