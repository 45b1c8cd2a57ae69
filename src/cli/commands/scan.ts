// `anchorage scan [PATH...] [--kubeconfig F] [--endpoint HOST:PORT]...`: inventory every certificate and key
// under the paths, in the cluster and on live endpoints, build the trust graph and report what is wrong
// (docs/scan-schema.md). Exit 0 clean, 1 findings at or above --fail-on, 2 bad input, 3 a live source unread. The work is
// src/cli/scan-run.ts, loaded when the command runs, with V8's young generation held at its starting size (peak
// RSS: docs/benchmarks.md).
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { SEVERITIES, type Severity } from '../../lint/types.ts';
import { collect } from '../args.ts';
import { smallYoungGeneration } from '../files.ts';
import { checkFormat } from '../output.ts';
import type { ScanCliOptions } from '../scan-run.ts';

const FORMATS = ['table', 'json', 'yaml', 'sarif', 'html'] as const;

export async function scanCommand(paths: string[], o: ScanCliOptions = {}): Promise<number> {
  const format = checkFormat(o.output ?? 'table', FORMATS);
  const failOn = (o.failOn ?? 'error') as Severity;
  if (!SEVERITIES.includes(failOn)) throw new InputError(`--fail-on: '${failOn}' is not a severity (expected ${SEVERITIES.join(', ')})`);
  // A scan allocates fast and keeps little: V8's default young generation grew to ~150 MiB of RSS that held only garbage.
  smallYoungGeneration();
  const { runScan } = await import('../scan-run.ts');
  return runScan(paths, o, format, failOn);
}

export function register(program: Command): void {
  program
    .command('scan')
    .description(
      'inventory every certificate and key under the paths, check who trusts whom and report what is wrong (docs/scan-schema.md)',
    )
    .argument('[paths...]', 'files or directories (PEM, DER, PKCS#7/#12, JKS, kubeconfigs, pki init node trees)')
    .option('--kubeconfig <files>', "read the cluster too: Secrets, ConfigMaps with PEM, webhook caBundles (several files joined by ':')")
    .option('--context <name>', 'kubeconfig context to use (reads the cluster; default kubeconfig when --kubeconfig is not given)')
    .option(
      '--in-cluster',
      'read the cluster this pod runs in with its service account (KUBERNETES_SERVICE_HOST, the mounted token and CA)',
    )
    .option('--page-size <n>', 'objects per LIST page when reading the cluster', '500')
    .option('--qps <n>', 'LIST calls per second when reading the cluster (default 50)')
    .option('--burst <n>', 'LIST calls allowed at once before --qps pacing starts (default 100)')
    .option(
      '--endpoint <host:port>',
      'also handshake with this TLS endpoint and record its chain; =NAME to send and check another name (repeatable)',
      collect,
      [],
    )
    .option('--endpoint-ca <file>', 'PEM CA the --endpoint chains must verify against')
    .option('--client-cert <file>', 'PEM client certificate to offer --endpoint servers (with --client-key): is it accepted?')
    .option('--client-key <file>', 'PEM key of --client-cert')
    .option('--endpoint-timeout <seconds>', 'give up on an endpoint after this long (default 5)')
    .option('--progress', 'progress lines on stderr (default when stderr is a terminal)')
    .option('-o, --output <format>', 'table|json|yaml|sarif|html (html: one self-contained page with the trust graph)', 'table')
    .option('--fail-on <severity>', 'exit 1 when a finding is at least this severe: error|warning|notice', 'error')
    .option('--policy <file>', 'lint policy file (docs/policy.md): thresholds, disabled ids, severities')
    .option('--at <time>', 'judge expiry at this time (ISO 8601 or Unix seconds) instead of now')
    .option('--password <password>', 'password for PKCS#12/JKS/encrypted keys')
    .option('-v, --verbose', 'list every place and every skipped source')
    .option(
      '--ca-log <file>',
      'an exported Anchorage CA log (ca log export): flag what its CAs signed that it lacks; repeatable',
      collect,
      [],
    )
    .action(async (paths: string[], o: ScanCliOptions) => {
      process.exitCode = await scanCommand(paths, o);
    });
}
