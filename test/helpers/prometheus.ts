import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Debian's `prometheus`, started on loopback with a config of scrape jobs, in a temp dir. */
export class PrometheusProcess {
  readonly dir: string;
  readonly url: string;
  readonly #child: ChildProcess;
  #log = '';

  private constructor(dir: string, url: string, child: ChildProcess) {
    this.dir = dir;
    this.url = url;
    this.#child = child;
    child.stderr?.on('data', (d: Buffer) => {
      this.#log = (this.#log + d.toString()).slice(-8000);
    });
  }

  /** Starts Prometheus with `scrapeConfigs` (YAML list items, indented by two spaces) and extra `flags`. */
  static async start(scrapeConfigs: string, flags: string[] = []): Promise<PrometheusProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'promsd-prometheus-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n${scrapeConfigs}`,
    );
    const child = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
        ...flags,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT'
            ? new Error('prometheus is not on PATH; install it with: apt-get install -y prometheus')
            : err,
        ),
      );
    });
    return new PrometheusProcess(dir, `http://127.0.0.1:${port}`, child);
  }

  /** The result vector of an instant query (empty while Prometheus is not ready). */
  async query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    try {
      const r = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(q)}`);
      if (!r.ok) return [];
      const j = (await r.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return j.data.result;
    } catch {
      return [];
    }
  }

  /** Polls `q` until `done(result)` or `timeoutMs`; returns the last result. */
  async waitFor(
    q: string,
    done: (r: { metric: Record<string, string>; value: [number, string] }[]) => boolean,
    timeoutMs = 20_000,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const end = Date.now() + timeoutMs;
    let last = await this.query(q);
    while (!done(last) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 250));
      last = await this.query(q);
    }
    if (!done(last))
      throw new Error(`Prometheus: ${q} → ${JSON.stringify(last)} after ${timeoutMs} ms; log:\n${this.#log}`);
    return last;
  }

  /** Stops Prometheus and removes its directory. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise((r) => this.#child.once('exit', r));
      this.#child.kill('SIGTERM');
      const t = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
