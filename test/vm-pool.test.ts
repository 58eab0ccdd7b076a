import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// test/vm/ holds two files that register the same metric names; vitest's vm pools run them in
// their own vm contexts, one after the other in one worker.
const root = join(__dirname, '..');

describe("vitest's vm pools", () => {
  for (const pool of ['vmThreads', 'vmForks']) {
    it(`run promsd in vm contexts with pool ${pool}, every test passing`, () => {
      const r = spawnSync(
        process.execPath,
        [
          join(root, 'node_modules', 'vitest', 'vitest.mjs'),
          'run',
          '--config',
          join(root, 'test', 'vm', 'vitest.vm.config.mts'),
          `--pool=${pool}`,
        ],
        { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
      );
      expect({ status: r.status, tests: /Tests\s+(.*)/.exec(r.stdout)?.[1]?.trim() }).toEqual({
        status: 0,
        tests: '2 passed (2)',
      });
    }, 150_000);
  }
});
