// The anchorage command line. Commands are thin: they parse flags, call domain code, render.
// Start-up is lazy: only the module of the command being run is imported (with its domain code);
// `--version` imports none (not even commander), and help or an unknown command loads them all, so what they print is unchanged.
// `inspect` given only paths (and perhaps -o FORMAT) runs without commander too: the common one-file case.
// Built-in modules come from process.getBuiltinModule: an ESM `import … from 'node:fs'` builds a facade that
// reads every export, loading fs streams and promises (~8 ms of CPU) that the CLI's start-up does not need.
import type { Command } from 'commander';
import { InputError, oneLine } from '../common/errors.ts';
import { DerError } from '../x509/der.ts';

/** The version in package.json: two folders up from src/cli/main.ts and from the published dist/cli/main.js. */
function packageVersion(): string {
  const { readFileSync } = process.getBuiltinModule('node:fs');
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

interface CommandModule {
  register(program: Command): void;
}

/** src/cli/commands/inspect.ts, which main.ts also runs without commander. */
interface InspectModule extends CommandModule {
  inspect(paths: string[], o: { output: string }): void;
}

/**
 * Every top-level command, in the order help lists them, with the modules that define it. A command split
 * over several modules names the subcommands each one registers (`subcommands`, checked by
 * test/startup.test.ts), so that `pki init` loads only pki.ts: the first module of a command always loads
 * (it makes the command), the others only when their subcommand is run, or when the subcommand is none of
 * the listed ones (help, a typo: commander then lists or suggests them all).
 */
export const COMMANDS: readonly { name: string; subcommands?: readonly string[]; load: () => Promise<CommandModule> }[] = [
  { name: 'inspect', load: () => import('./commands/inspect.ts') },
  { name: 'cert', load: () => import('./commands/cert.ts') },
  { name: 'verify', load: () => import('./commands/verify.ts') },
  { name: 'lint', load: () => import('./commands/lint.ts') },
  { name: 'pki', subcommands: ['plan', 'init', 'check-expiration', 'renew', 'rotate-ca'], load: () => import('./commands/pki.ts') },
  // `pki adopt`: registers itself under the pki command, so it loads after pki.ts.
  { name: 'pki', subcommands: ['adopt'], load: () => import('./commands/adopt.ts') },
  // `pki ca-keys`, `pki root-key`: the CA keys at rest, also under the pki command.
  { name: 'pki', subcommands: ['ca-keys', 'root-key'], load: () => import('./commands/pki-keys.ts') },
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

/**
 * `inspect` with paths and at most one `-o FORMAT`/`--output FORMAT`/`--output=FORMAT`, nothing else: what
 * commander would hand its action (a lone `-` is a path to commander too), or undefined for any other command
 * line (other flags, --help, no path), which goes through commander as before.
 */
export function plainInspect(argv: readonly string[]): { paths: string[]; output: string } | undefined {
  if (argv[0] !== 'inspect') return undefined;
  const paths: string[] = [];
  let output: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-' || !a.startsWith('-')) {
      paths.push(a);
      continue;
    }
    if (output !== undefined) return undefined;
    if (a.startsWith('--output=')) output = a.slice('--output='.length);
    else if (a === '-o' || a === '--output') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('-')) return undefined;
      output = v;
    } else return undefined;
  }
  return paths.length ? { paths, output: output ?? 'table' } : undefined;
}

/**
 * The modules a command line needs: none for --version; the named command's (of a command split over
 * modules, the first and the one that registers the named subcommand, or all of them when it names none
 * that is listed); all otherwise.
 */
export function modulesFor(argv: readonly string[]): typeof COMMANDS {
  const first = argv[0];
  if (first === '--version' || first === '-V') return [];
  const named = COMMANDS.filter((c) => c.name === first);
  if (!named.length) return COMMANDS;
  const sub = argv[1];
  const owner = named.find((c) => c.subcommands?.includes(sub as string));
  return owner ? named.filter((c, i) => i === 0 || c === owner) : named;
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
  const plain = plainInspect(argv);
  if (plain) {
    const command = COMMANDS.find((c) => c.name === 'inspect') as (typeof COMMANDS)[number];
    const { inspect } = (await command.load()) as InspectModule;
    try {
      inspect(plain.paths, { output: plain.output });
      return typeof process.exitCode === 'number' ? process.exitCode : 0;
    } catch (e) {
      return inputErrorExit(e);
    }
  }
  const program = await buildProgram(argv);
  const { CommanderError } = await import('commander');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    return inputErrorExit(e);
  }
}

/** Bad input: one line on stderr, exit code 2; anything else is a bug and is thrown. */
function inputErrorExit(e: unknown): number {
  if (e instanceof InputError || e instanceof DerError) {
    process.stderr.write(`error: ${oneLine(e.message)}\n`);
    return 2;
  }
  throw e;
}

/**
 * A reader that stops early (`anchorage inspect dir | head`) is not an error: stop quietly. The handler is
 * attached when process.stdout is first used, not before: building that stream loads Node's stream modules
 * (and net and tty for a pipe or a terminal), which `inspect` never needs (it writes with writeSync, and
 * writeStdoutSync handles EPIPE itself). Called by bin/anchorage.js and when this file is run directly.
 */
export function quietOnEpipe(): void {
  const own = Object.getOwnPropertyDescriptor(process, 'stdout');
  if (!own?.get || !own.configurable) {
    process.stdout.on('error', onStdoutError);
    return;
  }
  Object.defineProperty(process, 'stdout', {
    configurable: true,
    enumerable: own.enumerable ?? true,
    get() {
      Object.defineProperty(process, 'stdout', own);
      const stdout = process.stdout;
      stdout.on('error', onStdoutError);
      return stdout;
    },
  });
}

function onStdoutError(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EPIPE') throw e;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
}

if (import.meta.main) {
  quietOnEpipe();
  process.exitCode = await run(process.argv.slice(2));
}
