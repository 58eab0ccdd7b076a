import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root. */
export const ROOT = join(__dirname, '..', '..');

/**
 * Tests that run the built package (child processes, the threaded server's worker) need dist/;
 * `npm test` builds it before the suites run. Fails fast, saying so, when it is missing.
 */
export function requireBuild(): void {
  for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/server/worker.js']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run "npm run build" before these tests`);
  }
}
