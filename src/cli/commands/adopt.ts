// `anchorage pki adopt`: take over the PKI of a cluster that already runs, without changing a file of it.
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { adoptPki } from '../../pki/adopt-io.ts';
import { collect } from '../args.ts';
import { checkFormat, printOutput, renderTable } from '../output.ts';

export function register(program: Command): void {
  const pki = program.commands.find((c) => c.name() === 'pki') ?? program.command('pki');
  pki
    .command('adopt')
    .description(
      "adopt an existing kubeadm or hard-way PKI: read each node's tree, recognise every file, infer the cluster config, write config + store to a new directory; changes no existing file",
    )
    .argument(
      '<trees...>',
      "each node's tree as [NAME[@IP]=]PATH: its root, its /etc/kubernetes, a certificate folder, or the hard way's certificate folder (all its nodes)",
    )
    .requiredOption('--out <dir>', 'new PKI directory (refused if it already holds one)')
    .option('--kubernetes-version <v>', 'the cluster version (default: inferred from what kubeadm wrote)')
    .option('--service-cidr <cidr>', 'the service CIDR (default: inferred from the apiserver SANs)')
    .option('--node-ip <name=ip>', "a node's IP where its files carry none (the hard way's certificates; repeatable)", collect)
    .option('--dry-run', 'show what would be adopted, write nothing')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action(
      (
        trees: string[],
        o: { out: string; kubernetesVersion?: string; serviceCidr?: string; nodeIp?: string[]; dryRun?: boolean; output: string },
      ) => {
        const format = checkFormat(o.output, ['table', 'json', 'yaml']);
        const nodeIPs: Record<string, string> = {};
        for (const x of o.nodeIp ?? []) {
          const m = /^([a-z0-9][a-z0-9.-]*)=(.+)$/.exec(x);
          if (!m || isIP(m[2] as string) === 0) throw new InputError(`--node-ip ${x}: want NAME=IP`);
          nodeIPs[m[1] as string] = m[2] as string;
        }
        const r = adoptPki({
          specs: trees,
          out: o.out,
          options: {
            ...(o.kubernetesVersion ? { kubernetesVersion: o.kubernetesVersion } : {}),
            ...(o.serviceCidr ? { serviceCIDR: o.serviceCidr } : {}),
            ...(o.nodeIp ? { nodeIPs } : {}),
          },
          ...(o.dryRun ? { dryRun: true } : {}),
        });
        const view = {
          out: r.out,
          dryRun: !!o.dryRun,
          cluster: r.config.clusterName,
          controlPlane: r.config.controlPlane.map((n) => n.name),
          workers: r.config.workers.map((n) => n.name),
          etcd: r.config.etcd.topology,
          keyAlgorithm: r.config.keyAlgorithm,
          externalCAs: r.externalCAs,
          files: r.files,
          missing: r.missing,
          differences: r.differences,
          notes: r.notes,
          config: r.config,
        };
        printOutput(view, format, () => {
          const rows = r.files.map((f) => [f.node, f.path, f.id ?? '-', f.status]);
          const lines = [
            renderTable(['NODE', 'FILE', 'ROLE', 'STATUS'], rows),
            `${o.dryRun ? 'would adopt' : 'adopted'} ${r.files.filter((f) => f.status === 'adopted').length} files of cluster ${r.config.clusterName}: control plane ${view.controlPlane.join(', ')}${view.workers.length ? `; workers ${view.workers.join(', ')}` : ''}; etcd ${view.etcd}; ${r.config.keyAlgorithm}`,
          ];
          if (r.externalCAs.length)
            lines.push(`no private key for ${r.externalCAs.join(', ')}: external-CA mode (nothing they sign is issued here)`);
          for (const d of r.differences) lines.push(`differs from the inferred config: ${d.id}: ${d.why} (renew keeps its names)`);
          if (r.missing.length) lines.push(`not in any tree (pki init would issue them, never a CA): ${r.missing.join(', ')}`);
          for (const n of r.notes) lines.push(`note: ${n}`);
          if (!o.dryRun)
            lines.push(
              `wrote ${r.written.join(', ')} in ${r.out}; the trees were not changed.`,
              `next: anchorage pki check-expiration --dir ${r.out}`,
            );
          return `${lines.join('\n')}\n`;
        });
      },
    );
}
