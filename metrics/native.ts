// Loads the Rust core once per thread. The addon's state (the series table) is process-wide;
// each thread that loads it gets its own shard.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type * as Native from '../native/index';

export type { Native as NativeTypes };

// Source (metrics/) and build (dist/metrics/) sit at different depths below the package root.
const root = [join(__dirname, '..'), join(__dirname, '..', '..')].find((dir) =>
  existsSync(join(dir, 'native', 'index.js')),
);
if (root === undefined) {
  throw new Error(`promsd: native addon loader not found above ${__dirname}; run "npm run build"`);
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Native = require(join(root, 'native', 'index.js'));
