import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeJson, normalizeText } from './normalize';

// Every program of programs.js, run once with prom-client and once with promsd, each in its
// own process; texts must be byte-identical and JSON structurally equal once the differences
// listed in the README (and in normalize.ts) are removed.
const programs = Object.keys(require('./programs.js') as Record<string, unknown>);

type Rec = { text?: string; json?: unknown; error?: string };

function run(lib: 'prom-client' | 'promsd', program: string): Promise<Rec[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'run-program.js'), lib, program], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out) as Rec[]);
      } catch {
        reject(new Error(`${lib} ${program}: no JSON on stdout: ${out}`));
      }
    });
  });
}

function normalized(recs: Rec[]): Rec[] {
  return recs.map((r) =>
    r.text !== undefined ? { text: normalizeText(r.text) } : r.json !== undefined ? { json: normalizeJson(r.json) } : r,
  );
}

describe('differential corpus: prom-client vs promsd', () => {
  it('has at least 30 programs', () => {
    expect(programs.length).toBeGreaterThanOrEqual(30);
  });

  for (const program of programs) {
    it(`${program}: the same text byte for byte and the same JSON`, async () => {
      const [theirs, ours] = await Promise.all([run('prom-client', program), run('promsd', program)]);
      expect(theirs.find((r) => r.error)).toBeUndefined();
      expect(normalized(ours)).toEqual(normalized(theirs));
    });
  }
});
