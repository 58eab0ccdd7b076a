/**
 * The service-discovery contract (prometheus_async's): a plugin is any object with
 * `register(server)`, called once the metrics server's socket is bound. It resolves to a
 * function that undoes the registration, or `null` when there is nothing to undo.
 *
 * ```ts
 * const logTarget: ServiceDiscovery = {
 *   async register(server) {
 *     console.log(`scrape me at ${server.url}`);
 *     return async () => console.log('gone');
 *   },
 * };
 * await startHttpServer({ serviceDiscovery: logTarget });
 * ```
 */

/** What a plugin learns about the server it registers. */
export interface MetricsServerInfo {
  /** The address and port as actually bound (`addr` may be a wildcard such as `0.0.0.0` or `::`). */
  readonly socket: { readonly addr: string; readonly port: number };
  /** Full URL of the metrics path, IPv6 hosts in brackets, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** The metrics path, e.g. `/metrics`. */
  readonly path: string;
  /** True when the server speaks HTTPS. */
  readonly https: boolean;
  /** Path of a cheap health endpoint on the same server (`/healthz`). */
  readonly healthPath: string;
  /**
   * True when the server closes itself — every plugin deregistered, the listener closed — on
   * SIGTERM/SIGINT (because a plugin asked with `handleSignals`): plugins then install no handler
   * of their own.
   */
  readonly signalsHandled?: boolean;
}

/** Undoes one registration. Called at most once, by the server's `close()`. */
export type Deregister = () => Promise<void>;

/** A service-discovery plugin. */
export interface ServiceDiscovery {
  /**
   * Registers `server`. May keep retrying in the background (and resolve early); resolves to
   * the function that deregisters, or `null` when there is nothing to undo.
   */
  register(server: MetricsServerInfo): Promise<Deregister | null>;
  /** Optional: whether the registration is currently in effect (shown as `isRegistered`). */
  readonly isRegistered?: boolean;
  /**
   * Optional: true asks the server that registers the plugin to close itself on SIGTERM/SIGINT
   * (every plugin deregistered, the listener closed), then let the signal end the process.
   */
  readonly handleSignals?: boolean;
  /** Optional: how errors name the plugin (default: its class name). */
  readonly name?: string;
}

/** One group of targets in Prometheus's `file_sd_configs` / `http_sd_configs` format. */
export interface TargetGroup {
  /** `host:port` of each target. */
  targets: string[];
  /** Labels attached to every target in the group (`__metrics_path__`, `__scheme__`, ...). */
  labels: Record<string, string>;
}

/**
 * A source of targets for the HTTP SD endpoint (`/sd` on the metrics server), for Prometheus's
 * `http_sd_configs`.
 */
export interface HttpSdSource {
  /** All live targets; `[]` when there are none. */
  list(): Promise<TargetGroup[]>;
}
