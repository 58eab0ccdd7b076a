import { defineConfig } from 'vitest/config';

// vitest's vm pools run each test file in its own vm context, with that context's own
// SharedArrayBuffer: test/vm-pool.test.ts runs these files with both.
export default defineConfig({
  test: {
    root: __dirname,
    include: ['*.vm.ts'],
    testTimeout: 30_000,
    // One worker: the second file registers the same names where the first one ran.
    poolOptions: { vmThreads: { singleThread: true }, vmForks: { singleFork: true } },
  },
});
