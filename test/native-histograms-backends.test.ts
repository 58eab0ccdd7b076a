import { describe, expect, it } from 'vitest';
import {
  EmbeddedBackend,
  Histogram,
  IoredisBackend,
  OPENMETRICS_CONTENT_TYPE,
  PROTOBUF_CONTENT_TYPE,
  loadBackend,
  register,
  renderRedis,
  startHttpServer,
} from '../index';
import { getBackend } from '../backend/load';
import { decodeFamilies } from './helpers/protoc';
import { spawnChild, useRedisForFile, quiet } from './helpers/redis';

// Native histograms through the embedded one-host backend and the TypeScript twin.

const redis = useRedisForFile();

const config = { help: 'L.', buckets: [], nativeHistogramBucketFactor: 2 };

describe('native histograms through other backends', () => {
  it('add up across processes on the embedded backend', async () => {
    loadBackend(new EmbeddedBackend({ role: 'primary', flushIntervalMs: 50, logger: quiet }));
    const h = new Histogram({ name: 'emb_native_seconds', ...config });
    h.observe(1);
    h.observe(-3);
    const child = spawnChild({
      backend: 'embedded',
      flushIntervalMs: 50,
      metrics: [{ type: 'histogram', config: { name: 'emb_native_seconds', ...config } }],
      steps: [
        { metric: 0, method: 'observe', value: 3 },
        { metric: 0, method: 'observe', value: 0 },
      ],
    });
    expect(await child.exited).toBe(0);
    const fam = decodeFamilies(await register.metricsBuffer({ contentType: PROTOBUF_CONTENT_TYPE })).find((f) =>
      f.startsWith('name: "emb_native_seconds"'),
    );
    // Schema 0: 1 → bucket 0, 3 → bucket 2, -3 → negative bucket 2, 0 → zero bucket.
    expect(fam).toBe(
      [
        'name: "emb_native_seconds"',
        'help: "L."',
        'type: HISTOGRAM',
        'metric {',
        '  histogram {',
        '    sample_count: 4',
        '    sample_sum: 1',
        '    schema: 0',
        '    zero_threshold: 2.9387358770557188e-39',
        '    zero_count: 1',
        '    negative_span {',
        '      offset: 2',
        '      length: 1',
        '    }',
        '    negative_delta: 1',
        '    positive_span {',
        '      offset: 0',
        '      length: 3',
        '    }',
        '    positive_delta: 1',
        '    positive_delta: -1',
        '    positive_delta: 1',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('reach Redis through IoredisBackend, which serves them in protobuf through the core and their classic parts in text', async () => {
    loadBackend(new IoredisBackend({ url: redis.url, prefix: 'twinnh', flushIntervalMs: 50, logger: quiet }));
    const h = new Histogram({ name: 'twin_native_seconds', ...config });
    h.observe(1);
    h.observe(3);
    const server = await startHttpServer({ addr: '127.0.0.1' });
    try {
      const r = await fetch(server.url, {
        headers: { accept: `${PROTOBUF_CONTENT_TYPE},application/openmetrics-text;version=1.0.0;q=0.5` },
      });
      expect(r.headers.get('content-type')).toBe(PROTOBUF_CONTENT_TYPE);
      const fam = decodeFamilies(new Uint8Array(await r.arrayBuffer())).find((f) =>
        f.startsWith('name: "twin_native_seconds"'),
      );
      // Schema 0: 1 → bucket 0, 3 → bucket 2.
      expect(fam).toContain('    sample_count: 2\n    sample_sum: 4\n    schema: 0\n');
      expect(fam).toContain('    positive_span {\n      offset: 0\n      length: 3\n    }\n');
      const om = await fetch(server.url, { headers: { accept: 'application/openmetrics-text;version=1.0.0' } });
      expect(om.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
      // The core's OpenMetrics rule: a histogram without a negative bound may hold negative
      // observations, so it shows no _sum/_count (RedisBackend renders the same).
      expect(await om.text()).toBe(
        '# HELP twin_native_seconds L.\n# TYPE twin_native_seconds histogram\ntwin_native_seconds_bucket{le="+Inf"} 2\n# EOF\n',
      );
      // The Rust sidecar reader renders the same aggregate from what the twin wrote.
      await getBackend()?.flush();
      expect(await renderRedis({ url: redis.url, prefix: 'twinnh' })).toContain('twin_native_seconds_count 2\n');
    } finally {
      await server.close();
    }
  });
});
