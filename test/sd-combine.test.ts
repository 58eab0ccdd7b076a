import { describe, expect, it } from 'vitest';
import { combineServiceDiscovery } from '../sd/combine';
import { InvalidSdOptionError } from '../errors';
import type { MetricsServerInfo, ServiceDiscovery } from '../sd/types';

// combineServiceDiscovery: all or nothing on register, everything attempted on deregister.

const server: MetricsServerInfo = {
  socket: { addr: '127.0.0.1', port: 9464 },
  url: 'http://127.0.0.1:9464/metrics',
  path: '/metrics',
  https: false,
  healthPath: '/healthz',
};

/** A plugin that records what happens to it in `log`. */
function plugin(
  name: string,
  log: string[],
  behaviour: { registerFails?: boolean; deregisterFails?: boolean; nothingToUndo?: boolean; registered?: boolean } = {},
): ServiceDiscovery {
  return {
    isRegistered: behaviour.registered,
    async register(s) {
      log.push(`register ${name} ${s.socket.port}`);
      if (behaviour.registerFails) throw new Error(`${name} refused`);
      if (behaviour.nothingToUndo) return null;
      return async () => {
        log.push(`deregister ${name}`);
        if (behaviour.deregisterFails) throw new Error(`${name} deregister failed`);
      };
    },
  };
}

describe('combineServiceDiscovery', () => {
  it('registers every plugin and deregisters every one', async () => {
    const log: string[] = [];
    const combined = combineServiceDiscovery([
      plugin('a', log),
      plugin('b', log),
      plugin('c', log, { nothingToUndo: true }),
    ]);
    const deregister = await combined.register(server);
    expect(log).toEqual(['register a 9464', 'register b 9464', 'register c 9464']);
    await deregister?.();
    expect(log.slice(3).sort()).toEqual(['deregister a', 'deregister b']);
    await deregister?.(); // once only
    expect(log).toHaveLength(5);
  });

  it('when one plugin fails to register, the others are deregistered and its error is rethrown', async () => {
    const log: string[] = [];
    const combined = combineServiceDiscovery([
      plugin('a', log),
      plugin('b', log, { registerFails: true }),
      plugin('c', log),
    ]);
    await expect(combined.register(server)).rejects.toThrow('b refused');
    expect(log.filter((l) => l.startsWith('deregister')).sort()).toEqual(['deregister a', 'deregister c']);
  });

  it('when several fail to register, an AggregateError carries every error', async () => {
    const log: string[] = [];
    const combined = combineServiceDiscovery([
      plugin('a', log, { registerFails: true }),
      plugin('b', log, { registerFails: true }),
      plugin('c', log),
    ]);
    const err = (await combined.register(server).catch((e: unknown) => e)) as AggregateError;
    expect(err).toBeInstanceOf(AggregateError);
    expect(err.message).toBe('2 of 3 service-discovery plugins failed to register');
    expect(err.errors.map((e: Error) => e.message)).toEqual(['a refused', 'b refused']);
    expect(log).toContain('deregister c');
  });

  it('the combined deregister runs all deregisters even if some throw, then reports an AggregateError', async () => {
    const log: string[] = [];
    const combined = combineServiceDiscovery([
      plugin('a', log, { deregisterFails: true }),
      plugin('b', log),
      plugin('c', log, { deregisterFails: true }),
    ]);
    const deregister = await combined.register(server);
    const err = (await deregister?.().catch((e: unknown) => e)) as AggregateError;
    expect(log.filter((l) => l.startsWith('deregister')).sort()).toEqual([
      'deregister a',
      'deregister b',
      'deregister c',
    ]);
    expect(err).toBeInstanceOf(AggregateError);
    expect(err.message).toBe(
      '2 of 3 service-discovery deregistrations failed: a deregister failed; c deregister failed',
    );
  });

  it('resolves to null when no plugin has anything to undo, and to null for an empty list', async () => {
    expect(await combineServiceDiscovery([plugin('a', [], { nothingToUndo: true })]).register(server)).toBeNull();
    expect(await combineServiceDiscovery([]).register(server)).toBeNull();
  });

  it('isRegistered is true only when every plugin that reports it is registered', () => {
    expect(combineServiceDiscovery([plugin('a', [], { registered: true }), plugin('b', [])]).isRegistered).toBe(true);
    expect(
      combineServiceDiscovery([plugin('a', [], { registered: true }), plugin('b', [], { registered: false })])
        .isRegistered,
    ).toBe(false);
  });

  it('refuses what is not a list of plugins, naming the bad entry', () => {
    expect(() => combineServiceDiscovery({} as never)).toThrow(InvalidSdOptionError);
    expect(() => combineServiceDiscovery({} as never)).toThrow(
      'combineServiceDiscovery: plugins must be an array of service-discovery plugins, got {}',
    );
    expect(() => combineServiceDiscovery([plugin('a', []), { regster() {} } as never])).toThrow(
      'combineServiceDiscovery: plugins[1] must have a register(server) method, got {}',
    );
  });
});
