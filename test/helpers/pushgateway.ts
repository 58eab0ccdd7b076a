import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from './http';
import { freePort } from './prometheus';

/** Debian's `prometheus-pushgateway`, on a free loopback port with its own storage dir. */
export class PushgatewayProcess {
  readonly dir: string;
  readonly url: string;
  readonly #child: ChildProcess;

  private constructor(dir: string, url: string, child: ChildProcess) {
    this.dir = dir;
    this.url = url;
    this.#child = child;
  }

  static async start(): Promise<PushgatewayProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'promsd-pushgateway-'));
    const port = await freePort();
    const child = spawn(
      'prometheus-pushgateway',
      [`--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${join(dir, 'data')}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT'
            ? new Error('prometheus-pushgateway is not on PATH; apt-get install -y prometheus-pushgateway')
            : err,
        ),
      );
    });
    const gw = new PushgatewayProcess(dir, `http://127.0.0.1:${port}`, child);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await get(`${gw.url}/-/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return gw;
      if (Date.now() > deadline) throw new Error('prometheus-pushgateway did not become ready in 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The gateway's own /metrics: the pushed samples, lines starting with `prefix`. */
  async samples(prefix: string): Promise<string[]> {
    const r = await get(`${this.url}/metrics`);
    return r.body
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith(prefix))
      .sort();
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null) {
      const exited = new Promise((r) => this.#child.once('exit', r));
      this.#child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
