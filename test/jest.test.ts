import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// test/jest/ is a user's Jest suite (default `testEnvironment: 'node'`: every file in its own
// vm context, fake timers in some tests) run against promsd's build, in one worker process
// (--runInBand) so that files share the native store the way a Jest worker shares it.
const root = join(__dirname, '..');

describe('a Jest suite using promsd', () => {
  it('passes under Jest default environment, in one worker, every test', () => {
    const out = join(root, 'node_modules', '.jest-result.json');
    const run = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules', 'jest', 'bin', 'jest.js'),
        '--config',
        join(root, 'test', 'jest', 'jest.config.js'),
        '--runInBand',
        '--json',
        `--outputFile=${out}`,
      ],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    const result = JSON.parse(readFileSync(out, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      numTotalTestSuites: number;
    };
    expect({ status: run.status, failed: result.numFailedTests, stderr: run.status === 0 ? '' : run.stderr }).toEqual({
      status: 0,
      failed: 0,
      stderr: '',
    });
    expect(result.numTotalTestSuites).toBe(4);
    expect(result.numPassedTests).toBe(10);
  }, 150_000);
});
