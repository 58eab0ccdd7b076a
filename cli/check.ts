import { configKeys, maskedConfig } from '../config/index';
import type { Command } from './common';
import { EXIT } from './common';
import { pingConsul, pingRedis } from './runtime';

/** `promsd check`: prints the resolved configuration (secrets masked) and tests Redis and Consul. */
export const check: Command = {
  name: 'check',
  summary:
    'Print the resolved configuration (secrets masked, with where each value came from) and test the connection to Redis and Consul.',
  flags: {},
  async run({ args, resolved, out }) {
    const { config, sources, file } = resolved;
    const masked = maskedConfig(config) as unknown as Record<string, Record<string, unknown>>;
    const checks: { target: string; ok: boolean; detail: string; cause?: string }[] = [];
    if (config.backend.redisUrl !== undefined) {
      const why = await pingRedis(config.backend.redisUrl);
      checks.push({
        target: `redis ${masked.backend?.redisUrl as string}`,
        ok: why === null,
        detail: why?.message ?? 'PONG',
        ...(why === null ? {} : { cause: why.cause }),
      });
    }
    if (config.sd.kinds.includes('consul')) {
      const why = await pingConsul(config);
      checks.push({
        target: `consul ${config.consul.addr ?? '127.0.0.1:8500'}`,
        ok: why === null,
        detail: why ?? 'agent answered',
      });
    }
    if (args.json) {
      out(`${JSON.stringify({ config: masked, sources, file: file ?? null, checks }, null, 2)}\n`);
    } else {
      out(`config file: ${file ?? '(none)'}\n`);
      for (const def of configKeys()) {
        const [section = '', name = ''] = def.key.split('.');
        const v = masked[section]?.[name];
        if (v === undefined) continue;
        out(`${def.key.padEnd(24)} ${JSON.stringify(v).padEnd(36)} ${sources[def.key] ?? 'default'}\n`);
      }
      for (const c of checks) out(`${c.ok ? 'ok  ' : 'FAIL'} ${c.target}: ${c.detail}\n`);
      if (checks.length === 0) out('nothing to connect to (no Redis URL, no Consul)\n');
    }
    return checks.every((c) => c.ok) ? EXIT.ok : EXIT.failed;
  },
};
