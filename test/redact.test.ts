import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { redactUrl } from '../config/rules';

// One rule hides Redis passwords, in TypeScript (config/rules.ts) and in the Rust core
// (flusher.rs `redact`, whose unit test reads the same vectors).

const vectors = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'redact-vectors.json'), 'utf8')) as [
  string,
  string,
][];

describe('redactUrl', () => {
  it.each(vectors)('shows %s as %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});
