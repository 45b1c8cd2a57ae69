// `anchorage inspect <file|dir|->`: what is in these files, in words or as documented JSON/YAML.
// Written as it goes (streamInspect): memory does not grow with the number of files in a directory.
import type { Command } from 'commander';
import { secretArg } from '../args.ts';
import { constantMemoryUnlessSmall } from '../files.ts';
import { type InspectFormat, streamInspect } from '../inspect-view.ts';
import { checkFormat, writeStdoutSync } from '../output.ts';

export function register(program: Command): void {
  program
    .command('inspect')
    .description(
      'show what certificates, keys, CSRs and CRLs a file, directory or stdin holds (PEM, DER, PKCS#7, PKCS#12, JKS, kubeconfig)',
    )
    .argument('<paths...>', 'files, directories or - for stdin')
    .option('-o, --output <format>', 'table|json|yaml|ndjson (ndjson: one JSON source per line, docs/inspect-schema.md)', 'table')
    .option(
      '--password <password>',
      'password for PKCS#12, JKS and encrypted keys (env:NAME, file:PATH, prompt, or the value)',
      secretArg('--password'),
    )
    .action(inspect);
}

/**
 * What `inspect` does once its flags are parsed; src/cli/main.ts also calls it without commander for a
 * command line of paths alone (start-up, docs/benchmarks.md).
 */
export function inspect(paths: string[], o: { output: string; password?: string }): void {
  const format = checkFormat(o.output, ['table', 'json', 'yaml', 'ndjson']) as InspectFormat;
  constantMemoryUnlessSmall(paths);
  const { failed } = streamInspect(paths, format, writeStdoutSync, o.password === undefined ? {} : { password: o.password });
  if (failed) process.exitCode = 2;
}
