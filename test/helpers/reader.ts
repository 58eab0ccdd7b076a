// Runs the core's protocol reader (native.ProtocolReader) over an ioredis client, as the ioredis
// twin does: each round's commands in one pipeline, replies fed back as strings.
import type { Cluster, Redis } from 'ioredis';

import { native } from '../../metrics/native';

/** Reads `prefix` with read protocol `protocol` and renders it (text unless told otherwise). */
export async function readThrough(
  client: Redis | Cluster,
  prefix: string,
  protocol: 1 | 2,
  options: { openMetrics?: boolean; protobuf?: boolean; defaultLabels?: string[] } = {},
): Promise<Buffer> {
  const reader = new native.ProtocolReader({ prefix, protocol });
  for (let done = false; !done; ) {
    const cmds = reader.commands();
    const p = client.pipeline();
    for (const [name, ...args] of cmds) p.call(name, ...args);
    const results = ((await p.exec()) ?? []) as [Error | null, unknown][];
    done = reader.feed(
      results.map(([e, r]) =>
        e !== null ? e.message : (r as unknown[]).map((x) => (Array.isArray(x) ? x.map(String) : String(x))),
      ),
    );
  }
  return reader.render(options);
}
