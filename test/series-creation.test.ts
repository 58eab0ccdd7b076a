import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { Counter, Gauge, Histogram, InvalidLabelsError, Registry, register } from '../index';
import { requireBuild, ROOT } from './helpers/build';
import { thrownBy } from './helpers/throws';

// The series-creation (miss) path (metrics/metric.ts `indexOf`, metrics/labels.ts
// `readLabelValues`): each label read once into a scratch pair reused by every metric of the
// thread, unknown keys found with for…in. These pin what the rewrite must keep from the
// Object.keys / map version: which key an error names, what is and is not checked, aliases of
// numbers, and that a reused (or re-entered) scratch pair never mixes one call's values into
// another's series.

function counter(reg: Registry, name: string, labelNames: string[]): Counter<string> {
  return new Counter({ name, help: 'h', labelNames, registers: [reg] });
}

describe('label objects on the creation path', () => {
  it('names the first unknown own key in Object.keys order (integer keys first), and creates nothing', async () => {
    const reg = new Registry();
    const c = counter(reg, 'keys_total', ['method', 'status']);
    const before = await reg.metrics();
    const e1 = thrownBy(() => c.inc({ zeta: 1, method: 'GET', alpha: 2, status: '200' } as never));
    expect(e1).toBeInstanceOf(InvalidLabelsError);
    expect(e1.message).toBe('Counter "keys_total": label "zeta" is not one of [method, status]');
    const e2 = thrownBy(() => c.inc({ method: 'GET', status: '200', b: 1, 10: 'x', 2: 'y' } as never));
    expect(e2.message).toBe('Counter "keys_total": label "2" is not one of [method, status]');
    expect(await reg.metrics()).toBe(before);
  });

  it('checks own enumerable string keys only: inherited, non-enumerable and symbol keys pass', async () => {
    const reg = new Registry();
    const c = counter(reg, 'own_total', ['method', 'status']);
    // Label values may come from the prototype (they are read as properties)…
    c.inc(Object.create({ method: 'GET' }, { status: { value: '200', enumerable: true } }));
    // …and keys that are not labels are ignored there, or when not enumerable, or symbols.
    const extra = Object.create({ extra: 'inherited' });
    extra.method = 'GET';
    extra.status = '200';
    Object.defineProperty(extra, 'hidden', { value: 'x', enumerable: false });
    extra[Symbol('s')] = 'y';
    c.inc(extra, 2);
    // The first call's own keys set the label order (status, then the inherited method).
    expect(await reg.metrics()).toBe(
      '# HELP own_total h\n# TYPE own_total counter\nown_total{status="200",method="GET"} 3\n',
    );
  });

  it('missing and undefined labels make one series without them; strict refuses both', async () => {
    const reg = new Registry();
    const c = counter(reg, 'partial_total', ['method', 'status']);
    c.inc({ method: 'GET' });
    c.inc({ method: 'GET', status: undefined }, 2);
    c.inc({ status: '500' }, 4);
    expect(await reg.metrics()).toBe(
      '# HELP partial_total h\n# TYPE partial_total counter\npartial_total{method="GET"} 3\npartial_total{status="500"} 4\n',
    );
    const strictReg = new Registry(undefined, { strict: true });
    const s = counter(strictReg, 'strict_total', ['method', 'status']);
    expect(thrownBy(() => s.inc({ method: 'GET', status: undefined })).message).toBe(
      'Counter "strict_total": label "status" is missing (got {"method":"GET"}; every label of [method, status] is required)',
    );
    expect(await strictReg.metrics()).toBe('# HELP strict_total h\n# TYPE strict_total counter\n');
  });

  it('a number and its string are one series, reached by either, and removed by either', async () => {
    const reg = new Registry();
    const c = counter(reg, 'codes_total', ['method', 'status']);
    c.inc({ method: 'GET', status: 200 });
    c.inc({ method: 'GET', status: '200' }, 2);
    c.inc({ method: 'GET', status: 200 }, 4);
    c.inc({ method: 1.5, status: 404 }, 8);
    expect(await reg.metrics()).toBe(
      '# HELP codes_total h\n# TYPE codes_total counter\ncodes_total{method="GET",status="200"} 7\ncodes_total{method="1.5",status="404"} 8\n',
    );
    c.remove({ method: '1.5', status: 404 });
    c.remove({ method: 'GET', status: '200' });
    expect(await reg.metrics()).toBe('# HELP codes_total h\n# TYPE codes_total counter\n');
    // Neither the number nor the string alias is left behind: both start again from zero.
    c.inc({ method: 'GET', status: 200 });
    c.inc({ method: 1.5, status: '404' });
    expect(await reg.metrics()).toBe(
      '# HELP codes_total h\n# TYPE codes_total counter\ncodes_total{method="GET",status="200"} 1\ncodes_total{method="1.5",status="404"} 1\n',
    );
  });

  it('lax values of other types are stringified as prom-client does and aliased when primitive', async () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'lax', help: 'h', labelNames: ['v'], registers: [reg] });
    g.set({ v: true as never }, 1);
    g.inc({ v: 'true' }, 1);
    g.set({ v: null as never }, 5);
    g.set({ v: 10n as never }, 6);
    g.inc({ v: '10' }, 1);
    g.set({ v: { toString: () => 'obj' } as never }, 7);
    expect(await reg.metrics()).toBe(
      '# HELP lax h\n# TYPE lax gauge\nlax{v="true"} 2\nlax{v="null"} 5\nlax{v="10"} 7\nlax{v="obj"} 7\n',
    );
  });

  it('reads each label once per creation, so a getter cannot make the tree disagree with the series', async () => {
    const reg = new Registry();
    const c = counter(reg, 'getter_total', ['method', 'status']);
    let reads = 0;
    const labels = {
      method: 'GET',
      get status() {
        reads++;
        return String(200 + reads);
      },
    };
    // The metric's first labelled call has no compiled lookup yet: the creation's is the only
    // read ("201"). Had the tree insert read it again ("202"), "202" would point at this series.
    c.inc(labels);
    expect(reads).toBe(1);
    c.inc({ method: 'GET', status: '202' }, 10);
    expect(await reg.metrics()).toBe(
      '# HELP getter_total h\n# TYPE getter_total counter\ngetter_total{method="GET",status="201"} 1\ngetter_total{method="GET",status="202"} 10\n',
    );
    // Now the compiled lookup reads it once ("202": a hit, no creation).
    c.inc(labels, 100);
    expect(reads).toBe(2);
    expect(await reg.metrics()).toBe(
      '# HELP getter_total h\n# TYPE getter_total counter\ngetter_total{method="GET",status="201"} 1\ngetter_total{method="GET",status="202"} 110\n',
    );
  });

  it('a label whose getter throws creates nothing, and the next creation is exact', async () => {
    const reg = new Registry();
    const c = counter(reg, 'throws_total', ['method', 'status']);
    const bad = {
      method: 'GET',
      get status(): string {
        throw new Error('boom');
      },
    };
    expect(() => c.inc(bad)).toThrow('boom');
    expect(thrownBy(() => c.inc({ method: 'GET', status: 'x', other: 1 } as never)).message).toBe(
      'Counter "throws_total": label "other" is not one of [method, status]',
    );
    c.inc({ method: 'PUT', status: '201' });
    expect(await reg.metrics()).toBe(
      '# HELP throws_total h\n# TYPE throws_total counter\nthrows_total{method="PUT",status="201"} 1\n',
    );
  });
});

describe('the scratch pair shared by the metrics of a thread', () => {
  it('keeps values exact across metrics with the same label count and a partial label set after a full one', async () => {
    const reg = new Registry();
    const a = counter(reg, 'a_total', ['method', 'status']);
    const b = counter(reg, 'b_total', ['x', 'y']);
    const h = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['p', 'q'], buckets: [1], registers: [reg] });
    a.inc({ method: 'GET', status: '200' });
    b.inc({ x: 'bx', y: 'by' }, 2);
    h.observe({ p: 'hp', q: 'hq' }, 0.5);
    // Nothing of the previous calls' values may show up in a label this call leaves out.
    a.inc({ method: 'POST' }, 3);
    b.inc({ y: 'only-y' }, 4);
    h.observe({ q: 'only-q' }, 2);
    expect(await reg.metrics()).toBe(
      [
        '# HELP a_total h',
        '# TYPE a_total counter',
        'a_total{method="GET",status="200"} 1',
        'a_total{method="POST"} 3',
        '',
        '# HELP b_total h',
        '# TYPE b_total counter',
        'b_total{x="bx",y="by"} 2',
        'b_total{y="only-y"} 4',
        '',
        '# HELP h_seconds h',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{le="1",p="hp",q="hq"} 1',
        'h_seconds_bucket{le="+Inf",p="hp",q="hq"} 1',
        'h_seconds_sum{p="hp",q="hq"} 0.5',
        'h_seconds_count{p="hp",q="hq"} 1',
        'h_seconds_bucket{le="1",q="only-q"} 0',
        'h_seconds_bucket{le="+Inf",q="only-q"} 1',
        'h_seconds_sum{q="only-q"} 2',
        'h_seconds_count{q="only-q"} 1',
        '',
      ].join('\n'),
    );
  });

  it('a series created from inside the reading of another (toString, getter) does not overwrite its values', async () => {
    const reg = new Registry();
    const outer = counter(reg, 'outer_total', ['method', 'status']);
    const inner = counter(reg, 'inner_total', ['method', 'status']);
    // The lax toString of `status` creates a series of another metric with the same label count,
    // and a getter creates one of the same metric, both while `outer` is reading its labels.
    outer.inc({
      method: 'GET',
      status: {
        toString() {
          inner.inc({ method: 'inner-m', status: 'inner-s' }, 5);
          return '200';
        },
      } as never,
    });
    let nested = 0;
    outer.inc({
      get method() {
        outer.inc({ method: `nested-${nested++}`, status: 'n' }, 7);
        return 'POST';
      },
      status: '201',
    });
    expect(await reg.metrics()).toBe(
      [
        '# HELP outer_total h',
        '# TYPE outer_total counter',
        'outer_total{method="GET",status="200"} 1',
        // The getter ran three times (inc's fast lookup, the slow path's lookup, then the
        // creation's read, which the third nested series interrupts): three new series.
        'outer_total{method="nested-0",status="n"} 7',
        'outer_total{method="nested-1",status="n"} 7',
        'outer_total{method="nested-2",status="n"} 7',
        'outer_total{method="POST",status="201"} 1',
        '',
        '# HELP inner_total h',
        '# TYPE inner_total counter',
        'inner_total{method="inner-m",status="inner-s"} 5',
        '',
      ].join('\n'),
    );
  });

  it('creating many series on several threads at once keeps every value exact', async () => {
    requireBuild();
    const name = 'scratch_threads_total';
    const SERIES = 2000;
    // Each thread (2 workers and this one) makes SERIES series of one counter, labelled by
    // thread, and adds i+1 to series i; the core merges the threads' families by name.
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { Counter } = require(${JSON.stringify(join(ROOT, 'dist', 'index.js'))});
      const c = new Counter({ name: workerData.name, help: 'h', labelNames: ['thread', 'i'] });
      for (let i = 0; i < workerData.series; i++) c.inc({ thread: workerData.thread, i }, i + 1);
      parentPort.postMessage('done');
    `;
    const workers = ['w1', 'w2'].map(
      (thread) => new Worker(code, { eval: true, workerData: { name, series: SERIES, thread } }),
    );
    const done = workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
    );
    const c = new Counter({ name, help: 'h', labelNames: ['thread', 'i'] });
    try {
      for (let i = 0; i < SERIES; i++) c.inc({ thread: 'main', i: String(i) }, i + 1);
      await Promise.all(done);
      const text = await register.getSingleMetricAsString(name);
      const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`));
      expect(lines.length).toBe(3 * SERIES);
      const want = new Set<string>();
      for (const thread of ['main', 'w1', 'w2']) {
        for (let i = 0; i < SERIES; i++) want.add(`${name}{thread="${thread}",i="${i}"} ${i + 1}`);
      }
      expect(new Set(lines)).toEqual(want);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
      register.removeSingleMetric(name);
    }
  });
});
