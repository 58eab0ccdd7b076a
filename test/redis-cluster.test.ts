import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderRedis } from '../index';
import { type RedisCluster, spawnChild, startRedisCluster } from './helpers/redis';

// Redis Cluster: a prefix's keys share one hash slot ({prefix}), so the scripts run on the node
// that owns it; several prefixes spread over the nodes.

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 30_000);
afterAll(async () => {
  await cluster.stop();
});

describe('Redis Cluster', () => {
  it('aggregates exactly across processes for prefixes living on different nodes', async () => {
    const prefixes = ['alpha', 'beta', 'gamma', 'delta'];
    const children = prefixes.flatMap((prefix) =>
      [1, 2].map((k) =>
        spawnChild({
          url: cluster.urls,
          cluster: true,
          prefix,
          metrics: [
            { type: 'counter', config: { name: 'cl_ops_total', help: 'Ops.', labelNames: ['p'] } },
            { type: 'histogram', config: { name: 'cl_seconds', help: 'S.', buckets: [1] } },
          ],
          steps: [
            { metric: 0, method: 'inc', labels: { p: prefix }, times: 10 * k },
            { metric: 1, method: 'observe', value: 2, times: k },
          ],
        }),
      ),
    );
    expect(await Promise.all(children.map((c) => c.exited))).toEqual(children.map(() => 0));
    for (const prefix of prefixes) {
      const text = await renderRedis({ url: cluster.urls, cluster: true, prefix });
      expect(text).toContain(`cl_ops_total{p="${prefix}"} 30\n`);
      expect(text).toContain('cl_seconds_bucket{le="+Inf"} 3\n');
    }
  });
});
