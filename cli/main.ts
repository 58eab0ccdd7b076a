#!/usr/bin/env node
/**
 * The `promsd` command: `serve` (standalone exporter of a Redis prefix), `demo` (the README's
 * first command), `check` (resolved configuration and connectivity).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check } from './check';
import type { Command } from './common';
import { EXIT, runCommand } from './common';
import { demo } from './demo';
import { serve } from './serve';

const COMMANDS: Record<string, Command> = { serve, demo, check };

function help(): string {
  return [
    'Usage: promsd <command> [options]',
    '',
    'Prometheus metrics for Node.js services that run as many processes.',
    '',
    'Commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.name.padEnd(8)} ${c.summary.split('. ')[0]?.replace(/\.$/, '')}.`),
    '',
    'Run `promsd <command> --help` for its options. Logs go to stderr; --json makes them JSON.',
    'Exit codes: 0 ok, 1 failed, 2 bad usage or configuration, 69 required service unavailable.',
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`promsd: unknown command ${JSON.stringify(name)}\n\n${help()}`);
    return EXIT.usage;
  }
  return runCommand(command, rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`promsd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.failed;
  },
);
