import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A runtime directory per file, so one-host aggregations of files running at once stay apart.
    setupFiles: ['test/helpers/runtime-dir.ts'],
    // Real processes, sockets and servers: keep files in separate processes. Most of a file's time
    // is spent waiting on them (timers, child processes, Redis, Prometheus), so three files at once
    // on a 2-core machine cut the suite from ~98 s to ~65 s without starving any of them.
    pool: 'forks',
    maxWorkers: 3,
    minWorkers: 1,
  },
});
