import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Gauge, InvalidOptionsError, Pushgateway, PushgatewayError, Registry } from '../index';
import { freePort } from './helpers/prometheus';
import { PushgatewayProcess } from './helpers/pushgateway';

// Against Debian's real prometheus-pushgateway: what it exposes on /metrics is what was pushed,
// with the job and grouping labels it adds (and `instance=""` when no instance was given).
let gw: PushgatewayProcess;
beforeAll(async () => {
  gw = await PushgatewayProcess.start();
}, 20_000);
afterAll(async () => {
  await gw?.stop();
});

function fixture(name: string) {
  const reg = new Registry();
  const jobs = new Counter({ name: `${name}_jobs_total`, help: 'Jobs.', labelNames: ['kind'], registers: [reg] });
  const last = new Gauge({ name: `${name}_last_seconds`, help: 'Last run.', registers: [reg] });
  return { reg, jobs, last };
}

describe('Pushgateway against prometheus-pushgateway', () => {
  it('push() puts the registry under the job and its groupings, read back from the gateway', async () => {
    const { reg, jobs, last } = fixture('pa');
    jobs.inc({ kind: 'batch' }, 3);
    last.set(1.5);
    const client = new Pushgateway(gw.url, {}, reg);
    const { resp } = await client.push({ jobName: 'nightly', groupings: { instance: 'host-1', step: 'a b' } });
    expect(resp.statusCode).toBe(200);
    expect(await gw.samples('pa_')).toEqual([
      'pa_jobs_total{instance="host-1",job="nightly",kind="batch",step="a b"} 3',
      'pa_last_seconds{instance="host-1",job="nightly",step="a b"} 1.5',
    ]);
  });

  it('pushAdd() replaces only the metrics it sends; push() replaces the whole group', async () => {
    const a = fixture('pb');
    a.jobs.inc({ kind: 'x' }, 2);
    a.last.set(7);
    await new Pushgateway(gw.url, {}, a.reg).push({ jobName: 'j' });
    const onlyJobs = new Registry();
    new Counter({ name: 'pb_jobs_total', help: 'Jobs.', labelNames: ['kind'], registers: [onlyJobs] }).inc(
      { kind: 'y' },
      5,
    );
    await new Pushgateway(gw.url, {}, onlyJobs).pushAdd({ jobName: 'j' });
    expect(await gw.samples('pb_')).toEqual([
      'pb_jobs_total{instance="",job="j",kind="y"} 5',
      'pb_last_seconds{instance="",job="j"} 7',
    ]);
    await new Pushgateway(gw.url, {}, onlyJobs).push({ jobName: 'j' });
    expect(await gw.samples('pb_')).toEqual(['pb_jobs_total{instance="",job="j",kind="y"} 5']);
  });

  it('delete() removes the group', async () => {
    const { reg, jobs } = fixture('pc');
    jobs.inc({ kind: 'z' });
    const client = new Pushgateway(gw.url, {}, reg);
    await client.push({ jobName: 'gone', groupings: { instance: 'i' } });
    expect(await gw.samples('pc_')).toEqual([
      'pc_jobs_total{instance="i",job="gone",kind="z"} 1',
      'pc_last_seconds{instance="i",job="gone"} 0',
    ]);
    const { resp } = await client.delete({ jobName: 'gone', groupings: { instance: 'i' } });
    expect(resp.statusCode).toBe(202);
    expect(await gw.samples('pc_')).toEqual([]);
  });

  it('gzips the body when the headers ask for it, through the caller’s Agent', async () => {
    const { reg, jobs } = fixture('pd');
    jobs.inc({ kind: 'gz' }, 4);
    const agent = new http.Agent({ keepAlive: true });
    const client = new Pushgateway(gw.url, { headers: { 'Content-Encoding': 'gzip' }, agent }, reg);
    await client.push({ jobName: 'zipped' });
    expect(await gw.samples('pd_')).toEqual([
      'pd_jobs_total{instance="",job="zipped",kind="gz"} 4',
      'pd_last_seconds{instance="",job="zipped"} 0',
    ]);
    agent.destroy();
  });

  it('keeps a path prefix of the gateway URL in front of /metrics/job/…', async () => {
    // A reverse proxy mounting the gateway under /gw, here a tiny forwarding server.
    const port = await freePort();
    const seen: string[] = [];
    const proxy = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const target = new URL((req.url ?? '').replace(/^\/gw/, ''), gw.url);
      const up = http.request(target, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
    try {
      const { reg, jobs } = fixture('pe');
      jobs.inc({ kind: 'p' });
      await new Pushgateway(`http://127.0.0.1:${port}/gw`, {}, reg).push({ jobName: 'a b', groupings: { x: 1 } });
      expect(seen).toEqual(['PUT /gw/metrics/job/a%20b/x/1']);
      expect(await gw.samples('pe_')).toEqual([
        'pe_jobs_total{instance="",job="a b",kind="p",x="1"} 1',
        'pe_last_seconds{instance="",job="a b",x="1"} 0',
      ]);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('a refused push rejects naming the status, the gateway’s answer and the URL', async () => {
    const counters = new Registry();
    new Counter({ name: 'pf_x', help: 'X.', registers: [counters] }).inc();
    await new Pushgateway(gw.url, {}, counters).push({ jobName: 'one' });
    // The gateway refuses a metric whose type differs from the same name in another group.
    const gauges = new Registry();
    new Gauge({ name: 'pf_x', help: 'X.', registers: [gauges] }).set(1);
    const err = await new Pushgateway(`${gw.url}/`, {}, gauges).push({ jobName: 'two' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushgatewayError);
    expect((err as PushgatewayError).status).toBe(400);
    expect((err as PushgatewayError).url).toBe(`${gw.url}/metrics/job/two`);
    expect((err as Error).message).toMatch(
      new RegExp(`^push failed with status 400, .+ \\(PUT ${gw.url}/metrics/job/two\\)$`, 's'),
    );
  });

  it('an unreachable gateway rejects naming the URL', async () => {
    const port = await freePort();
    const err = await new Pushgateway(`http://127.0.0.1:${port}`, {}, new Registry())
      .pushAdd({ jobName: 'j' })
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `POST http://127.0.0.1:${port}/metrics/job/j failed: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it('a call without jobName throws prom-client’s message at once; a bad URL throws at construction', () => {
    const client = new Pushgateway(gw.url, null as never, new Registry());
    expect(() => client.push({})).toThrow(new InvalidOptionsError('Missing jobName parameter'));
    expect(() => client.delete()).toThrow('Missing jobName parameter');
    expect(() => new Pushgateway('not a url')).toThrow('Pushgateway: gateway URL "not a url" is not a valid URL');
    expect(() => new Pushgateway('ftp://h/')).toThrow('Pushgateway: gateway URL "ftp://h/" must be http: or https:');
  });
});
