import { gunzipSync } from 'node:zlib';

import { afterEach, describe, expect, it } from 'vitest';

import { Counter, EmbeddedBackend, Gauge, loadBackend, register } from '../index';
import { getBackend } from '../backend/load';
import { native } from '../metrics/native';
import { decodeFamilies } from './helpers/protoc';

// The holder's scrape of the global registry runs on its own libuv pool task (flush, read of the
// model, render, gzip): it never waits on the flusher thread, whatever that thread is doing.

afterEach(async () => {
  native.backendReleaseFlusher();
  await getBackend()?.close();
  register.clear();
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe("the holder's scrape", () => {
  it('answers with this process’s latest values, plain and gzipped, while the flusher thread is held busy', async () => {
    // A long interval: no periodic flush runs during the test.
    const backend = loadBackend(
      new EmbeddedBackend({
        role: 'primary',
        prefix: `ohscrape${process.pid}`,
        flushIntervalMs: 60_000,
        processTtlMs: 120_000,
        logger: quiet,
      }),
    );
    const c = new Counter({ name: 'ohs_ops_total', help: 'Ops.', labelNames: ['k'] });
    const g = new Gauge({ name: 'ohs_level', help: 'Level.' });
    for (let i = 0; i < 100; i++) c.inc({ k: `key-${String(i).padStart(3, '0')}` }, i + 1);
    await backend.flush();
    await native.backendHoldFlusher(30_000);
    let flushed = false;
    // Queued behind the hold on the flusher thread: settles only once the thread is released.
    const queued = backend.flush().then(() => {
      flushed = true;
    });
    c.inc({ k: 'key-007' }, 1000);
    g.set(42);
    const [text, zipped, again] = await Promise.all([
      register.metrics(),
      register.metricsBuffer({ gzip: true }),
      register.metrics(),
    ]);
    expect(flushed).toBe(false);
    expect(text).toContain('ohs_ops_total{k="key-007"} 1008\n');
    expect(text).toContain('# TYPE ohs_level gauge\nohs_level 42\n');
    expect(text.split('\n').filter((l) => l.startsWith('ohs_ops_total{')).length).toBe(100);
    expect(zipped.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(zipped).toString('utf8')).toBe(text);
    expect(again).toBe(text);
    native.backendReleaseFlusher();
    await queued;
    expect(flushed).toBe(true);
  });

  it('answers backend.render() and renderProtobuf() with fresh exact values while the flusher thread is held busy', async () => {
    const backend = new EmbeddedBackend({
      role: 'primary',
      prefix: `ohdirect${process.pid}`,
      flushIntervalMs: 60_000,
      processTtlMs: 120_000,
      logger: quiet,
    });
    loadBackend(backend);
    const c = new Counter({ name: 'ohd_ops_total', help: 'Ops.' });
    const g = new Gauge({ name: 'ohd_level', help: 'Level.' });
    c.inc(3);
    await backend.flush();
    await native.backendHoldFlusher(30_000);
    let flushed = false;
    // Queued behind the hold on the flusher thread: settles only once the thread is released.
    const queued = backend.flush().then(() => {
      flushed = true;
    });
    c.inc(4);
    g.set(42);
    const [text, open, pb] = await Promise.all([
      backend.render({ openMetrics: false, defaultLabels: ['env', 'prod'] }),
      backend.render({ openMetrics: true, defaultLabels: [] }),
      backend.renderProtobuf({ defaultLabels: ['env', 'prod'] }),
    ]);
    expect(flushed).toBe(false);
    expect(text).toBe(
      '# HELP ohd_level Level.\n# TYPE ohd_level gauge\nohd_level{env="prod"} 42\n\n' +
        '# HELP ohd_ops_total Ops.\n# TYPE ohd_ops_total counter\nohd_ops_total{env="prod"} 7\n',
    );
    expect(open).toBe(
      '# HELP ohd_level Level.\n# TYPE ohd_level gauge\nohd_level 42\n' +
        '# HELP ohd_ops Ops.\n# TYPE ohd_ops counter\nohd_ops_total 7\n# EOF\n',
    );
    const env = 'metric {\n  label {\n    name: "env"\n    value: "prod"\n  }\n';
    expect(decodeFamilies(pb)).toEqual([
      `name: "ohd_level"\nhelp: "Level."\ntype: GAUGE\n${env}  gauge {\n    value: 42\n  }\n}\n`,
      `name: "ohd_ops_total"\nhelp: "Ops."\ntype: COUNTER\n${env}  counter {\n    value: 7\n  }\n}\n`,
    ]);
    native.backendReleaseFlusher();
    await queued;
    expect(flushed).toBe(true);
  });

  it('shows an increment made just before it, scrape after scrape (the flush before each render)', async () => {
    loadBackend(
      new EmbeddedBackend({
        role: 'primary',
        prefix: `ohfresh${process.pid}`,
        flushIntervalMs: 60_000,
        processTtlMs: 120_000,
        logger: quiet,
      }),
    );
    const c = new Counter({ name: 'ohs_fresh_total', help: 'Fresh.' });
    for (let i = 1; i <= 20; i++) {
      c.inc();
      expect(await register.metrics()).toBe(
        `# HELP ohs_fresh_total Fresh.\n# TYPE ohs_fresh_total counter\nohs_fresh_total ${i}\n`,
      );
    }
  });
});
