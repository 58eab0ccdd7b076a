import { show } from '../errors';
import { InvalidSdOptionError } from '../errors';
import type { Deregister, MetricsServerInfo, ServiceDiscovery } from './types';

/**
 * One plugin made of several (`serviceDiscovery: [consul, file]`). `register()` registers with
 * all of them at once; if any fails, the ones that succeeded are deregistered again and the
 * error is rethrown (an `AggregateError` when several failed), so nothing is left half-done.
 * The combined deregister runs every deregister even when some throw, then throws an
 * `AggregateError` of the failures. `isRegistered` is true when every plugin that reports it does.
 */
export function combineServiceDiscovery(plugins: readonly ServiceDiscovery[]): ServiceDiscovery {
  if (!Array.isArray(plugins)) {
    throw new InvalidSdOptionError(
      `combineServiceDiscovery: plugins must be an array of service-discovery plugins, got ${show(plugins)}`,
    );
  }
  plugins.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof (p as ServiceDiscovery).register !== 'function') {
      throw new InvalidSdOptionError(
        `combineServiceDiscovery: plugins[${i}] must have a register(server) method, got ${show(p)}`,
      );
    }
  });
  const list = [...plugins];
  return {
    get isRegistered(): boolean {
      return list.every((p) => p.isRegistered !== false);
    },
    // The server registering the combination then owns the signals for all of them.
    get handleSignals(): boolean {
      return list.some((p) => p.handleSignals === true);
    },
    async register(server: MetricsServerInfo): Promise<Deregister | null> {
      const results = await Promise.allSettled(list.map((p) => p.register(server)));
      const deregisters = results.flatMap((r) =>
        r.status === 'fulfilled' && typeof r.value === 'function' ? [r.value] : [],
      );
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (failures.length > 0) {
        // Undo the registrations that did happen; their own failures are secondary.
        await Promise.allSettled(deregisters.map((d) => d()));
        if (failures.length === 1) throw failures[0];
        throw new AggregateError(
          failures,
          `${failures.length} of ${list.length} service-discovery plugins failed to register`,
        );
      }
      if (deregisters.length === 0) return null;
      let done: Promise<void> | undefined;
      return () => {
        done ??= (async () => {
          const settled = await Promise.allSettled(deregisters.map((d) => d()));
          const errors = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
          if (errors.length > 0) {
            const messages = errors.map((e) => (e as Error)?.message ?? String(e)).join('; ');
            throw new AggregateError(
              errors,
              `${errors.length} of ${deregisters.length} service-discovery deregistrations failed: ${messages}`,
            );
          }
        })();
        return done;
      };
    },
  };
}
