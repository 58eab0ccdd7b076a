import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Counter,
  Gauge,
  Histogram,
  OPENMETRICS_CONTENT_TYPE,
  PROTOBUF_CONTENT_TYPE,
  Registry,
  Summary,
} from '../index';
import { negotiateContentType } from '../server/app';
import { isGzip } from '../metrics/registry';
import { gunzipSync } from 'node:zlib';
import { decodeFamilies, splitDelimited } from './helpers/protoc';

// The protobuf exposition, decoded by protoc (an independent decoder) with the vendored schema.

/** protobuf text format of a message, from `[field, value]` lines and nested blocks. */
function block(name: string, body: string[]): string[] {
  return [`${name} {`, ...body.map((l) => `  ${l}`), '}'];
}
const label = (n: string, v: string) => block('label', [`name: "${n}"`, `value: "${v}"`]);
const family = (name: string, help: string, type: string, metrics: string[][]) =>
  `${[`name: "${name}"`, `help: "${help}"`, `type: ${type}`, ...metrics.flatMap((m) => block('metric', m))].join('\n')}\n`;

describe('the protobuf exposition', () => {
  afterEach(() => vi.restoreAllMocks());

  it('encodes every metric type with its values, labels, default labels and exemplars', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_123);
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    reg.setDefaultLabels({ service: 'pb' });
    const c = new Counter({
      name: 'req_total',
      help: 'Requests.',
      labelNames: ['method'],
      registers: [reg],
      enableExemplars: true,
    });
    c.inc({ labels: { method: 'G"E\\T\n' }, value: 3, exemplarLabels: { trace_id: 'abc' } });
    new Gauge({ name: 'depth', help: 'Depth.', registers: [reg] }).set(-2.5);
    const h = new Histogram({ name: 'lat', help: 'Lat.', buckets: [0.5, 1], registers: [reg] });
    for (const v of [0.25, 0.75, 3]) h.observe(v);
    const s = new Summary({ name: 'sz', help: 'Size.', percentiles: [0.5], registers: [reg] });
    s.observe(10);
    const n = new Histogram({ name: 'nat', help: 'Native.', buckets: [], registers: [reg] });
    for (const v of [1, 1.5, 2, 3, -1, 0, 100]) n.observe(v);
    const both = new Histogram({
      name: 'both',
      help: 'Both.',
      buckets: [1],
      nativeHistogramBucketFactor: 2,
      nativeHistogramZeroThreshold: 0,
      registers: [reg],
    });
    both.zero();

    const body = await reg.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE });
    const svc = label('service', 'pb');
    expect(decodeFamilies(body)).toEqual([
      family('req_total', 'Requests.', 'COUNTER', [
        [
          ...label('method', 'G\\"E\\\\T\\n'),
          ...svc,
          ...block('counter', [
            'value: 3',
            ...block('exemplar', [
              ...label('trace_id', 'abc'),
              'value: 3',
              ...block('timestamp', ['seconds: 1700000000', 'nanos: 123000000']),
            ]),
          ]),
        ],
      ]),
      family('depth', 'Depth.', 'GAUGE', [[...svc, ...block('gauge', ['value: -2.5'])]]),
      family('lat', 'Lat.', 'HISTOGRAM', [
        [
          ...svc,
          ...block('histogram', [
            'sample_count: 3',
            'sample_sum: 4',
            ...block('bucket', ['cumulative_count: 1', 'upper_bound: 0.5']),
            ...block('bucket', ['cumulative_count: 2', 'upper_bound: 1']),
          ]),
        ],
      ]),
      family('sz', 'Size.', 'SUMMARY', [
        [
          ...svc,
          ...block('summary', [
            'sample_count: 1',
            'sample_sum: 10',
            ...block('quantile', ['quantile: 0.5', 'value: 10']),
          ]),
        ],
      ]),
      // Schema 3 (factor 1.1): 1 → bucket 0, 1.5 → 5, 2 → 8, 3 → 13, 100 → 54; -1 → negative 0.
      family('nat', 'Native.', 'HISTOGRAM', [
        [
          ...svc,
          ...block('histogram', [
            'sample_count: 7',
            'sample_sum: 106.5',
            'schema: 3',
            'zero_threshold: 2.9387358770557188e-39',
            'zero_count: 1',
            ...block('negative_span', ['offset: 0', 'length: 1']),
            'negative_delta: 1',
            ...block('positive_span', ['offset: 0', 'length: 1']),
            ...block('positive_span', ['offset: 4', 'length: 4']),
            ...block('positive_span', ['offset: 4', 'length: 1']),
            ...block('positive_span', ['offset: 40', 'length: 1']),
            ...[1, 0, -1, 0, 1, 0, 0].map((d) => `positive_delta: ${d}`),
          ]),
        ],
      ]),
      // No observations and no zero threshold: a no-op span marks it native (as client_golang does).
      family('both', 'Both.', 'HISTOGRAM', [
        [
          ...svc,
          ...block('histogram', [
            'sample_count: 0',
            'sample_sum: 0',
            ...block('bucket', ['cumulative_count: 0', 'upper_bound: 1']),
            'schema: 0',
            'zero_threshold: 0',
            'zero_count: 0',
            ...block('positive_span', ['offset: 0', 'length: 0']),
          ]),
        ],
      ]),
    ]);
  });

  it('carries histogram exemplars: per classic bucket, and in `exemplars` for a native histogram', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_500);
    const reg = new Registry(OPENMETRICS_CONTENT_TYPE);
    const h = new Histogram({ name: 'ex', help: 'E.', buckets: [1], registers: [reg], enableExemplars: true });
    h.observe({ value: 0.5, exemplarLabels: { trace_id: 't1' } });
    const n = new Histogram({
      name: 'exn',
      help: 'E.',
      buckets: [],
      nativeHistogramBucketFactor: 2,
      registers: [reg],
      enableExemplars: true,
    });
    n.observe({ value: 4, exemplarLabels: { trace_id: 't2' } });
    const ex = (id: string, v: number, name = 'exemplar') =>
      block(name, [
        ...label('trace_id', id),
        `value: ${v}`,
        ...block('timestamp', ['seconds: 1700000000', 'nanos: 500000000']),
      ]);
    expect(decodeFamilies(await reg.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE }))).toEqual([
      family('ex', 'E.', 'HISTOGRAM', [
        block('histogram', [
          'sample_count: 1',
          'sample_sum: 0.5',
          ...block('bucket', ['cumulative_count: 1', 'upper_bound: 1', ...ex('t1', 0.5)]),
        ]),
      ]),
      family('exn', 'E.', 'HISTOGRAM', [
        block('histogram', [
          'sample_count: 1',
          'sample_sum: 4',
          'schema: 0',
          'zero_threshold: 2.9387358770557188e-39',
          'zero_count: 0',
          ...block('positive_span', ['offset: 2', 'length: 1']),
          'positive_delta: 1',
          ...ex('t2', 4, 'exemplars'),
        ]),
      ]),
    ]);
  });

  it('is gzipped from 1 KiB like the text formats', async () => {
    const reg = new Registry();
    const c = new Counter({ name: 'many_total', help: 'Many.', labelNames: ['i'], registers: [reg] });
    for (let i = 0; i < 100; i++) c.inc({ i: String(i) }, i);
    const plain = await reg.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE });
    const gz = await reg.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE, gzip: true });
    expect(isGzip(plain)).toBe(false);
    expect(isGzip(gz)).toBe(true);
    expect(gunzipSync(gz).equals(plain)).toBe(true);
    expect(splitDelimited(plain)).toHaveLength(1);
    expect(decodeFamilies(plain)[0]).toContain(
      '    name: "i"\n    value: "99"\n  }\n  counter {\n    value: 99\n  }\n}\n',
    );
  });

  it('skips families without series', async () => {
    const reg = new Registry();
    new Counter({ name: 'empty_total', help: 'E.', labelNames: ['a'], registers: [reg] });
    expect((await reg.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE })).length).toBe(0);
  });

  it('is chosen when the scraper ranks it first, as Prometheus with native histograms does', () => {
    expect(
      negotiateContentType(
        'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.7,text/plain;version=0.0.4;q=0.6,*/*;q=0.5',
      ),
    ).toBe(PROTOBUF_CONTENT_TYPE);
    expect(
      negotiateContentType(
        'application/openmetrics-text;version=1.0.0,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5',
      ),
    ).toBe(OPENMETRICS_CONTENT_TYPE);
    // Another message type or a non-delimited encoding is not this format.
    expect(negotiateContentType('application/vnd.google.protobuf;proto=other.Message;encoding=delimited')).toBe(
      'text/plain; version=0.0.4; charset=utf-8',
    );
    expect(negotiateContentType('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily')).toBe(
      'text/plain; version=0.0.4; charset=utf-8',
    );
  });

  it('is not a text format: metrics() and setContentType refuse it', async () => {
    const reg = new Registry();
    expect(() => reg.setContentType(PROTOBUF_CONTENT_TYPE as never)).toThrow(
      `Content type ${PROTOBUF_CONTENT_TYPE} is unsupported (use text/plain; version=0.0.4; charset=utf-8 or application/openmetrics-text; version=1.0.0; charset=utf-8)`,
    );
  });
});
