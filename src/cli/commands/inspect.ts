// `anchorage inspect <file|dir|->`: what is in these files, in words or as documented JSON/YAML.
import type { Command } from 'commander';
import { secretArg } from '../args.ts';
import { inspectPaths, renderInspect } from '../inspect-view.ts';
import { checkFormat, printOutput } from '../output.ts';

export function register(program: Command): void {
  program
    .command('inspect')
    .description(
      'show what certificates, keys, CSRs and CRLs a file, directory or stdin holds (PEM, DER, PKCS#7, PKCS#12, JKS, kubeconfig)',
    )
    .argument('<paths...>', 'files, directories or - for stdin')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .option(
      '--password <password>',
      'password for PKCS#12, JKS and encrypted keys (env:NAME, file:PATH, prompt, or the value)',
      secretArg('--password'),
    )
    .action((paths: string[], o: { output: string; password?: string }) => {
      const format = checkFormat(o.output, ['table', 'json', 'yaml']);
      const report = inspectPaths(paths, o.password === undefined ? {} : { password: o.password });
      printOutput(report, format, () => renderInspect(report));
      if (report.sources.some((s) => s.error)) process.exitCode = 2;
    });
}
