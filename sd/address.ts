import { hostname, networkInterfaces } from 'node:os';
import { show } from '../errors';
import { InvalidSdOptionError } from '../errors';
import type { MetricsServerInfo } from './types';

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]', '::0', '0:0:0:0:0:0:0:0']);

/** True for the "any address" forms a server may be bound to (`0.0.0.0`, `::`). */
export function isWildcard(addr: string): boolean {
  return WILDCARDS.has(addr);
}

/** The host's first non-internal IPv4 address, or `undefined` when it has none. */
export function firstExternalIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      // `family` is the number 4 on Node 18.0–18.3, the string 'IPv4' elsewhere.
      if (!a.internal && (a.family === 'IPv4' || (a.family as unknown) === 4)) return a.address;
    }
  }
  return undefined;
}

/**
 * The address other machines should use to reach `server`: `explicit` when given, else the
 * bound address, except that a wildcard (which no one can connect to, and Consul rejects) is
 * replaced by the host's first non-internal IPv4, or loopback on a host without one.
 */
export function advertisedAddress(server: MetricsServerInfo, explicit: string | undefined): string {
  if (explicit !== undefined) return explicit;
  const addr = server.socket.addr;
  if (!isWildcard(addr)) return addr.startsWith('[') && addr.endsWith(']') ? addr.slice(1, -1) : addr;
  return firstExternalIPv4() ?? '127.0.0.1';
}

/** `host:port`, IPv6 hosts in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `<prefix>-<hostname>-<port>` with anything but letters, digits, `.`, `_`, `-` turned into `-`. */
export function defaultInstanceId(prefix: string, port: number): string {
  return `${prefix}-${hostname()}-${port}`.replace(/[^A-Za-z0-9._-]/g, '-');
}

/** Checks the parts of the server info a plugin relies on, naming the plugin in the error. */
export function checkServerInfo(plugin: string, server: MetricsServerInfo): void {
  const ok =
    typeof server === 'object' &&
    server !== null &&
    typeof server.socket?.addr === 'string' &&
    Number.isInteger(server.socket.port) &&
    server.socket.port > 0 &&
    server.socket.port < 65536 &&
    typeof server.path === 'string' &&
    server.path.startsWith('/') &&
    typeof server.healthPath === 'string' &&
    typeof server.https === 'boolean';
  if (!ok) {
    throw new InvalidSdOptionError(
      `${plugin}.register(server): server must be a MetricsServerInfo ({ socket: { addr, port }, url, path, https, healthPath }), got ${show(server)}`,
    );
  }
}
