import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { advertisedAddress, checkServerInfo, defaultInstanceId, hostPort } from './address';
import { InvalidSdOptionError } from '../errors';
import { LABEL_NAME } from '../metrics/validation';
import { optionChecks, type OptionChecks } from '../options';
import type { Deregister, MetricsServerInfo, ServiceDiscovery, TargetGroup } from './types';

/** Options of {@link FileSD}. */
export interface FileSDOptions {
  /** Directory Prometheus watches (`file_sd_configs: [{ files: ['<dir>/*.json'] }]`); created if missing. */
  dir: string;
  /** Labels attached to this target (valid Prometheus label names, string values). */
  labels?: Readonly<Record<string, string>>;
  /** File name without `.json` (default `metrics-<hostname>-<port>`, unique per instance). */
  serviceId?: string;
  /** Host written in the target (default: bound address; a wildcard becomes the first non-internal IPv4). */
  address?: string;
}

const ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;

/** The target group Prometheus should scrape for `server`, with `labels` added. */
export function targetGroupOf(
  server: MetricsServerInfo,
  address: string | undefined,
  labels: Readonly<Record<string, string>>,
): TargetGroup {
  return {
    targets: [hostPort(advertisedAddress(server, address), server.socket.port)],
    labels: { __metrics_path__: server.path, __scheme__: server.https ? 'https' : 'http', ...labels },
  };
}

/**
 * Prometheus file-based discovery: writes this instance's target as `<dir>/<serviceId>.json`
 * (`file_sd_configs` format) when the server starts and deletes it when the server closes, so
 * any number of processes can share the directory. Writes are atomic (a temporary file in the
 * same directory, renamed over the target), so Prometheus never reads half a file; the
 * temporary name does not end in `.json`, so it never matches Prometheus's `*.json` pattern.
 *
 * ```ts
 * await startHttpServer({ serviceDiscovery: new FileSD({ dir: '/etc/prometheus/targets', labels: { job: 'checkout' } }) });
 * ```
 */
export class FileSD implements ServiceDiscovery {
  readonly #dir: string;
  readonly #labels: Record<string, string>;
  readonly #serviceId: string | undefined;
  readonly #address: string | undefined;
  #file: string | undefined;
  #registered = false;

  /** Validates `options`; throws {@link InvalidSdOptionError} naming the bad one. */
  constructor(options: FileSDOptions) {
    const opt: OptionChecks = optionChecks('FileSD', InvalidSdOptionError);
    const o = opt.keys(options, ['dir', 'labels', 'serviceId', 'address']);
    const dir = opt.string('dir', o.dir);
    if (dir === undefined)
      throw new InvalidSdOptionError('FileSD: dir is required (the directory Prometheus file_sd_configs watches)');
    this.#dir = resolve(dir);
    this.#labels =
      opt.stringRecord('labels', o.labels, {
        pattern: LABEL_NAME,
        rule: 'is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)',
      }) ?? {};
    const idRule = 'must be 1-200 letters, digits, ".", "_" or "-" not starting with "." or "-" (it names a file)';
    this.#serviceId = opt.string('serviceId', o.serviceId, { pattern: ID, rule: idRule });
    this.#address = opt.string('address', o.address);
  }

  /** True while this instance's file is in place. */
  get isRegistered(): boolean {
    return this.#registered;
  }

  /** Path of the file written (known once `register()` has been called). */
  get file(): string | undefined {
    return this.#file;
  }

  /** Writes the file (creating the directory) and resolves to the function that deletes it. */
  async register(server: MetricsServerInfo): Promise<Deregister> {
    checkServerInfo('FileSD', server);
    if (this.#file !== undefined)
      throw new InvalidSdOptionError('FileSD: register() was already called; use one FileSD per metrics server');
    const id = this.#serviceId ?? defaultInstanceId('metrics', server.socket.port);
    const file = join(this.#dir, `${id}.json`);
    this.#file = file;
    const content = `${JSON.stringify([targetGroupOf(server, this.#address, this.#labels)], null, 2)}\n`;
    await mkdir(this.#dir, { recursive: true });
    await writeAtomically(file, content);
    this.#registered = true;
    let done: Promise<void> | undefined;
    return () => {
      done ??= (async () => {
        this.#registered = false;
        await unlink(file).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      })();
      return done;
    };
  }
}

/** Writes `content` to a temporary file beside `file`, flushes it, and renames it over `file`. */
async function writeAtomically(file: string, content: string): Promise<void> {
  const dir = resolve(file, '..');
  const base = file.slice(dir.length + 1);
  const tmp = join(dir, `.${base}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(content, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
