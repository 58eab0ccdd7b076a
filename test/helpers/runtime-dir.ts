// Every test file gets its own runtime directory: the one-host aggregation joins every process of
// a namespace of this user (`$XDG_RUNTIME_DIR/promsd/<prefix>.sock`), and test files running at
// once must not join each other's. Child processes inherit it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'promsd-rt-'));
process.env.XDG_RUNTIME_DIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
