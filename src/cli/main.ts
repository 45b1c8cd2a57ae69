// The anchorage command line. Commands are thin: they parse flags, call domain code, render.
// Start-up is lazy: only the module of the command being run is imported (with its domain code);
// `--version` imports none (not even commander), and help or an unknown command loads them all, so what they print is unchanged.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError, oneLine } from '../common/errors.ts';
import { DerError } from '../x509/der.ts';

/** The version in package.json: two folders up from src/cli/main.ts and from the published dist/cli/main.js. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

interface CommandModule {
  register(program: Command): void;
}

/** Every top-level command, in the order help lists them, with the modules that define it. */
const COMMANDS: readonly { name: string; load: () => Promise<CommandModule> }[] = [
  { name: 'inspect', load: () => import('./commands/inspect.ts') },
  { name: 'cert', load: () => import('./commands/cert.ts') },
  { name: 'verify', load: () => import('./commands/verify.ts') },
  { name: 'lint', load: () => import('./commands/lint.ts') },
  { name: 'pki', load: () => import('./commands/pki.ts') },
  // `pki adopt`: registers itself under the pki command, so it loads after pki.ts.
  { name: 'pki', load: () => import('./commands/adopt.ts') },
  // `pki ca-keys`, `pki root-key`: the CA keys at rest, also under the pki command.
  { name: 'pki', load: () => import('./commands/pki-keys.ts') },
  { name: 'scan', load: () => import('./commands/scan.ts') },
  { name: 'ca', load: () => import('./commands/ca.ts') },
  { name: 'bundle', load: () => import('./commands/bundle.ts') },
  { name: 'controller', load: () => import('./commands/controller.ts') },
  { name: 'webhook', load: () => import('./commands/webhook.ts') },
  { name: 'nodes', load: () => import('./commands/nodes.ts') },
  { name: 'serve', load: () => import('./commands/serve.ts') },
  { name: 'agent', load: () => import('./commands/agent.ts') },
  { name: 'demo', load: () => import('./commands/demo.ts') },
  { name: 'tui', load: () => import('./commands/tui.ts') },
];

/** The modules a command line needs: the named command's, none for --version, all otherwise. */
function modulesFor(argv: readonly string[]): typeof COMMANDS {
  const first = argv[0];
  if (first === '--version' || first === '-V') return [];
  const named = COMMANDS.filter((c) => c.name === first);
  return named.length ? named : COMMANDS;
}

/** The program with the commands `argv` needs registered (all of them when argv is not given). */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const { Command } = await import('commander');
  const program = new Command();
  program
    .name('anchorage')
    .description('Kubernetes PKI and trust: inspect, issue, verify and lint certificates')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  const wanted = argv === undefined ? COMMANDS : modulesFor(argv);
  for (const m of await Promise.all(wanted.map((c) => c.load()))) m.register(program);
  return program;
}

/** Run the CLI; returns the exit code. Bad input: one line on stderr, exit 2, no stack trace. */
export async function run(argv: string[]): Promise<number> {
  // `--version` alone prints what commander would print, without loading commander.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const program = await buildProgram(argv);
  const { CommanderError } = await import('commander');
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
