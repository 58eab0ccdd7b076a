import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  Counter,
  Gauge,
  Histogram,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
  Summary,
  type RegistryContentType,
} from '../index';

// Prometheus' own linter, `promtool check metrics` (Debian package `prometheus`), reads an
// exposition on stdin and exits 0 with no output when it parses and follows the naming rules.

/** Runs `promtool check metrics` on `exposition`; fails the test if promtool is not installed. */
function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 20_000 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('promtool is not on PATH; install it with: apt-get install -y prometheus');
    }
    throw r.error;
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * Well-named metrics of the given types, with labels, default labels, awkward label values and
 * special values. `withHelpQuotes` puts a double quote in a HELP text (valid in text format; the
 * OpenMetrics escape `\"` is not understood by promtool's text parser).
 */
function wellNamed(contentType: RegistryContentType, types: ReadonlySet<string>, withHelpQuotes: boolean): Registry {
  const reg = new Registry(contentType);
  reg.setDefaultLabels({ service: 'checkout', instance_zone: 'eu-1' });
  if (types.has('counter')) {
    const c = new Counter({
      name: 'http_requests_total',
      help: withHelpQuotes
        ? 'HTTP requests "served", by method and code.'
        : 'HTTP requests served, by method and code.',
      labelNames: ['method', 'code'],
      registers: [reg],
    });
    c.inc({ method: 'GET', code: 200 }, 1200);
    c.inc({ method: 'POST', code: 503 });
    new Counter({ name: 'jobs_processed_total', help: 'Jobs processed.', registers: [reg] }).inc(7);
  }
  if (types.has('gauge')) {
    const g = new Gauge({
      name: 'queue_length_items',
      help: 'Items waiting.\nPer queue.',
      labelNames: ['queue'],
      registers: [reg],
    });
    g.set({ queue: 'C:\\jobs "urgent"\nnext' }, 3);
    g.set({ queue: 'idle' }, NaN);
    g.set({ queue: 'unbounded' }, Infinity);
    g.set({ queue: 'drained' }, -Infinity);
  }
  if (types.has('histogram')) {
    const h = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Request latency.',
      labelNames: ['method', 'route'],
      registers: [reg],
    });
    for (const v of [0.003, 0.04, 0.2, 0.9, 3, 30]) h.observe({ method: 'GET', route: '/cart' }, v);
    h.zero({ method: 'POST', route: '/pay' });
  }
  if (types.has('summary')) {
    const s = new Summary({
      name: 'http_response_size_bytes',
      help: 'Response sizes.',
      labelNames: ['route'],
      registers: [reg],
    });
    for (let i = 1; i <= 200; i++) s.observe({ route: '/cart' }, i * 10);
    new Summary({ name: 'upload_size_bytes', help: 'Upload sizes (none yet).', registers: [reg] });
  }
  return reg;
}

const ALL = new Set(['counter', 'gauge', 'histogram', 'summary']);

describe('promtool check metrics', () => {
  it('accepts the text format of all four types with labels, without a lint message', async () => {
    const text = await wellNamed(PROMETHEUS_CONTENT_TYPE, ALL, true).metrics();
    expect(text).toContain('# TYPE http_requests_total counter');
    expect(text).toContain('# TYPE upload_size_bytes summary');
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
  });

  it('accepts OpenMetrics gauges, histograms and summaries with labels, without a lint message', async () => {
    // promtool 2.42 parses only the text format: OpenMetrics counter families (`# TYPE x counter`
    // over `x_total` samples), the `\"` escape in HELP and exemplars are OpenMetrics-only syntax
    // it cannot read, so this exposition holds the types whose OpenMetrics form it can.
    const om = await wellNamed(OPENMETRICS_CONTENT_TYPE, new Set(['gauge', 'histogram', 'summary']), false).metrics();
    expect(om.endsWith('\n# EOF\n')).toBe(true);
    expect(om).toContain('# TYPE http_request_duration_seconds histogram');
    expect(promtoolCheck(om)).toEqual({ status: 0, output: '' });
  });

  it('accepts a text exposition of 2000 series', async () => {
    const reg = new Registry();
    const c = new Counter({
      name: 'tenant_requests_total',
      help: 'Requests by tenant.',
      labelNames: ['tenant', 'code'],
      registers: [reg],
    });
    for (let i = 0; i < 1000; i++) {
      c.inc({ tenant: `t${i}`, code: '200' }, i);
      c.inc({ tenant: `t${i}`, code: '500' });
    }
    expect(promtoolCheck(await reg.metrics())).toEqual({ status: 0, output: '' });
  });

  it('is a real check: it reports a counter without _total and a camelCase name in a hand-written exposition', () => {
    const bad =
      '# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n# HELP queueLength Length.\n# TYPE queueLength gauge\nqueueLength 1\n';
    const r = promtoolCheck(bad);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('requests counter metrics should have "_total" suffix');
    expect(r.output).toContain("queueLength metric names should be written in 'snake_case' not 'camelCase'");
  });
});
