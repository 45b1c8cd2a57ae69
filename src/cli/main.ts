// The anchorage command line. Commands are thin: they parse flags, call domain code, render.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { InputError, oneLine } from '../common/errors.ts';
import { DerError } from '../x509/der.ts';
import * as adopt from './commands/adopt.ts';
import * as cert from './commands/cert.ts';
import * as demo from './commands/demo.ts';
import * as inspect from './commands/inspect.ts';
import * as lint from './commands/lint.ts';
import * as pki from './commands/pki.ts';
import * as scan from './commands/scan.ts';
import * as verify from './commands/verify.ts';

/** The version in package.json: two folders up from src/cli/main.ts and from the published dist/cli/main.js. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('anchorage')
    .description('Kubernetes PKI and trust: inspect, issue, verify and lint certificates')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  for (const m of [inspect, cert, verify, lint, pki, adopt, scan, demo]) m.register(program);
  return program;
}

/** Run the CLI; returns the exit code. Bad input: one line on stderr, exit 2, no stack trace. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InputError || e instanceof DerError) {
      process.stderr.write(`error: ${oneLine(e.message)}\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.main) {
  // A reader that stops early (`anchorage inspect dir | head`) is not an error: stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
  process.exitCode = await run(process.argv.slice(2));
}
