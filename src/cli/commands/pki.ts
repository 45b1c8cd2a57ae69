// `anchorage pki init|plan|check-expiration|renew|rotate-ca`: a whole cluster's PKI in one directory.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { InputError } from '../../common/errors.ts';
import { resolveSecret } from '../../common/secret-source.ts';
import { type Component, restartsFor } from '../../k8s/components.ts';
import { adoptTrees } from '../../pki/adopt.ts';
import { looksLikeKubeadmFolder, readNodeTrees } from '../../pki/adopt-io.ts';
import type { ClusterConfig } from '../../pki/config.ts';
import { checkExpiration, expirationObject, renderExpirationText } from '../../pki/expiration.ts';
import type { KeyAccess } from '../../pki/key-protection.ts';
import { buildPlan, type Plan } from '../../pki/plan.ts';
import { PHASE_EFFECTS, PHASES } from '../../pki/rotate.ts';
import { configFor, initPki, loadConfigFile, type Resumed, renewPki, rotateCa } from '../../pki/service.ts';
import { type Changes, loadStoreStrict } from '../../pki/store.ts';
import { collect } from '../args.ts';
import { checkFormat, printOutput, renderTable } from '../output.ts';
import { progressLine } from '../progress.ts';
import { humanDuration } from '../text.ts';

function planView(plan: Plan): Record<string, unknown> {
  return {
    cluster: plan.config.clusterName,
    layout: plan.config.layout,
    keyAlgorithm: plan.config.keyAlgorithm,
    nodes: plan.nodes,
    certificates: plan.certs.map((p) => ({
      id: p.id,
      kubeadmName: p.kubeadmName,
      ca: p.ca,
      signer: p.signer ?? 'self',
      ...(p.node ? { node: p.node } : {}),
      subject: { CN: p.cn, O: p.o },
      sans: p.sans,
      keyUsage: p.keyUsage,
      extKeyUsage: p.extKeyUsage,
      ...(p.pathLen !== undefined ? { pathLen: p.pathLen } : {}),
      validity: humanDuration(p.validitySeconds),
      keyType: p.keyType,
      ...(p.external ? { externallyManaged: true } : {}),
      ...(p.offline ? { offline: true } : {}),
    })),
    files: plan.files.map((f) => ({ node: f.node, path: f.path, mode: `0${f.mode.toString(8)}`, content: f.content.type })),
    notes: plan.notes,
  };
}

function renderPlan(plan: Plan): string {
  const rows = plan.certs.map((p) => [
    p.id,
    p.ca ? 'CA' : p.extKeyUsage.join('+'),
    `CN=${p.cn}${p.o.length ? `, O=${p.o.join('+')}` : ''}`,
    [...p.sans.dns, ...p.sans.ip].join(',') || '-',
    p.signer ?? 'self',
    humanDuration(p.validitySeconds),
    p.external ? 'external' : p.keyType,
  ]);
  const perNode = new Map<string, number>();
  for (const f of plan.files) perNode.set(f.node, (perNode.get(f.node) ?? 0) + 1);
  const nodes = plan.nodes.map((n) => `${n.name} (${n.roles.join(', ')}): ${perNode.get(n.name) ?? 0} files`);
  return `${renderTable(['ID', 'USAGE', 'SUBJECT', 'SANS', 'SIGNER', 'VALIDITY', 'KEY'], rows)}\n${plan.certs.length} certificates, ${plan.files.length} files on ${plan.nodes.length} nodes\n${nodes.slice(0, 20).join('\n')}${nodes.length > 20 ? `\n... and ${nodes.length - 20} more nodes` : ''}\n${plan.notes.map((n) => `note: ${n}\n`).join('')}`;
}

/** Which node files changed and which are gone: what to distribute, what to delete on the nodes. Every file, every node. */
export function describeChanges(c: Changes): string {
  const list = (nodes: Changes['nodes']): string => nodes.map((n) => `  ${n.node}: ${n.paths.join(', ')}\n`).join('');
  const removed = c.removed?.files
    ? `removed ${c.removed.files} file(s) no longer in the plan from ${c.removed.nodes.length} node(s); delete them there too:\n${list(c.removed.nodes)}`
    : '';
  if (c.files === 0) return `no node file changed\n${removed}`;
  return `changed ${c.files} file(s) on ${c.nodes.length} node(s); distribute them (DIR/nodes/<node>/ is / on that node):\n${list(c.nodes)}${removed}`;
}

/** The components each node runs, from the plan's node roles. */
function runsOn(config: ClusterConfig): (node: string) => Component[] {
  const roles = new Map(buildPlan(config).nodes.map((n) => [n.name, n.roles]));
  return (node) => {
    const r = roles.get(node) ?? [];
    const out: Component[] = ['kubelet', 'kube-proxy'];
    if (r.includes('control-plane')) out.push('kube-apiserver', 'kube-controller-manager', 'kube-scheduler');
    if (r.includes('etcd')) out.push('etcd');
    if (r.length === 1 && r[0] === 'etcd') return ['etcd'];
    return out;
  };
}

/** Which components must restart where, for the files that changed. */
function describeRestarts(c: Changes, runs: (node: string) => Component[]): string {
  const r = restartsFor(c.nodes, runs);
  if (r.length === 0) return '';
  return `then restart:\n${r.map((x) => `  ${x.component} on ${x.nodes.join(', ')}\n`).join('')}`;
}

/** What the rerun of a killed command did first. */
function describeResumed(r: Resumed): string {
  if (r.finished) {
    const cmd = [r.finished.command, ...r.finished.args].join(' ');
    const changes = r.finished.changes ? describeChanges(r.finished.changes).replace(/^/gm, '  ').replace(/ +$/, '') : '';
    return `finished the interrupted '${cmd}'${r.finished.note ? ` (${r.finished.note})` : ''}:\n${changes}`;
  }
  return r.discarded ? 'discarded an interrupted command that had not committed (it changed nothing)\n' : '';
}

/** The config of a PKI directory; a folder kubeadm wrote gets the way to adopt it, never a hint that would replace its CAs. */
function pkiConfig(dir: string, configPath?: string) {
  if (!configPath && looksLikeKubeadmFolder(dir))
    throw new InputError(
      `${dir} was written by kubeadm or the hard way, not by Anchorage: adopt it first (anchorage pki adopt ${dir} --out NEW_DIR), then work on NEW_DIR`,
    );
  return configFor(dir, configPath);
}

const PASSPHRASE_HELP = 'passphrase of the encrypted CA keys in DIR/store: env:NAME, file:PATH or prompt';
const ROOT_KEY_HELP = "the offline root's key, for this run only, when it was moved out of the store (pki root-key remove)";

/** --ca-passphrase and --root-key as the service takes them. A new passphrase typed at a prompt is asked twice. */
function keyAccess(o: { caPassphrase?: string; rootKey?: string }, newPassphrase = false): KeyAccess {
  const ask = (what: string): string => resolveSecret(o.caPassphrase as string, what);
  let passphrase: string | undefined;
  if (o.caPassphrase !== undefined) {
    passphrase = ask('CA key passphrase');
    if (newPassphrase && o.caPassphrase === 'prompt' && ask('CA key passphrase again') !== passphrase)
      throw new InputError('--ca-passphrase prompt: the two passphrases differ; nothing written');
  }
  return {
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(o.rootKey !== undefined ? { rootKeyFile: o.rootKey } : {}),
  };
}

export function register(program: Command): void {
  const pki = program.command('pki').description("generate, check, renew and rotate a whole cluster's PKI (kubeadm or hard-way layout)");

  pki
    .command('plan')
    .description('print every certificate and file `pki init` would make, with full profiles, without writing anything')
    .requiredOption('--config <file>', 'cluster PKI config (docs/cluster-config.md)')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action((o: { config: string; output: string }) => {
      const format = checkFormat(o.output, ['table', 'json', 'yaml']);
      const plan = buildPlan(loadConfigFile(o.config));
      printOutput(planView(plan), format, () => renderPlan(plan));
    });

  pki
    .command('init')
    .description('create (or complete) the PKI: CAs, every node tree, kubeconfigs, service-account keys, manifest.json')
    .requiredOption('--config <file>', 'cluster PKI config')
    .requiredOption('--out <dir>', 'output directory')
    .option('--force', 're-issue everything, even valid material')
    .option('--dry-run', 'same as `pki plan`')
    .option('--encrypt-ca-keys', 'store the CA keys encrypted (PKCS#8, PBES2/AES-256) with --ca-passphrase')
    .option('--ca-passphrase <source>', PASSPHRASE_HELP)
    .option('--root-key <file>', ROOT_KEY_HELP)
    .option('-o, --output <format>', 'table|json|yaml summary', 'table')
    .action(
      async (o: {
        config: string;
        out: string;
        force?: boolean;
        dryRun?: boolean;
        output: string;
        encryptCaKeys?: boolean;
        caPassphrase?: string;
        rootKey?: string;
      }) => {
        const format = checkFormat(o.output, ['table', 'json', 'yaml']);
        const config = loadConfigFile(o.config);
        if (looksLikeKubeadmFolder(o.out))
          throw new InputError(
            `${o.out} holds an existing PKI (kubeadm or the hard way): init would create new CAs beside it. Adopt it instead: anchorage pki adopt ${o.out} --out NEW_DIR`,
          );
        // A config `pki adopt` wrote describes a live cluster whose CAs are in its own directory's store.
        const home = dirname(resolve(o.config));
        if (existsSync(join(home, 'adopted.json')) && resolve(o.out) !== home)
          throw new InputError(
            `${o.config} describes the cluster adopted in ${home} (its CAs are in ${join(home, 'store')}): init into ${o.out} would make new CAs for it; work on ${home} instead`,
          );
        if (o.dryRun) {
          const plan = buildPlan(config);
          printOutput(planView(plan), format, () => renderPlan(plan));
          return;
        }
        const progress = progressLine();
        const r = await initPki({
          config,
          configText: readFileSync(o.config, 'utf8'),
          configDir: dirname(resolve(o.config)),
          out: o.out,
          ...(o.force ? { force: true } : {}),
          ...(o.encryptCaKeys ? { encryptCaKeys: true } : {}),
          keys: keyAccess(o, !!o.encryptCaKeys),
          progress,
        });
        progress.done();
        const count = (a: string): number => r.decisions.filter((d) => d.action === a).length;
        const summary = {
          out: o.out,
          issued: count('issued'),
          reissued: count('reissued'),
          kept: count('kept'),
          external: count('external'),
          files: r.manifest.files.length,
          nodes: r.plan.nodes.length,
          decisions: r.decisions,
        };
        printOutput(summary, format, () => {
          const changed = r.decisions.filter((d) => d.action === 'reissued').map((d) => `  re-issued ${d.id}: ${d.reason}\n`);
          return `${describeResumed(r.resumed)}PKI in ${o.out}: ${summary.issued} issued, ${summary.reissued} re-issued, ${summary.kept} kept, ${summary.external} external; ${summary.files} files on ${summary.nodes} nodes (manifest.json)\n${changed.slice(0, 30).join('')}${describeChanges(r.changes)}${r.plan.notes.map((n) => `note: ${n}\n`).join('')}`;
        });
      },
    );

  pki
    .command('check-expiration')
    .description("kubeadm's `certs check-expiration` for a node of the PKI directory")
    .requiredOption('--dir <dir>', 'PKI directory made by `pki init` or `pki adopt`, or a folder kubeadm wrote (/etc/kubernetes)')
    .option('--node <name>', 'node to report (default: the first control-plane node)')
    .option('--all-nodes', 'report every node of the PKI directory, one table each')
    .option('--config <file>', 'config (default: DIR/cluster.yaml)')
    .option('-o, --output <format>', 'text|json|yaml (kubeadm formats)', 'text')
    .action((o: { dir: string; node?: string; allNodes?: boolean; config?: string; output: string }) => {
      const format = checkFormat(o.output, ['text', 'json', 'yaml']);
      const now = new Date();
      const infos: ReturnType<typeof checkExpiration>[] = [];
      if (looksLikeKubeadmFolder(o.dir)) {
        // The folder's own files are the truth: a config given beside it describes a PKI directory, not this.
        if (o.config) process.stderr.write(`note: ${o.dir} is a folder kubeadm or the hard way wrote: read as it is (--config not used)\n`);
        // A folder kubeadm wrote (its /etc/kubernetes, or the pki folder itself): read it as it is.
        const trees = readNodeTrees(o.dir);
        // One node's folder: --node names it (its files may not say).
        if (trees.length === 1 && o.node) (trees[0] as (typeof trees)[number]).node = o.node;
        const r = adoptTrees(trees, { anyIP: true });
        const plan = r.plan;
        const nodes = o.allNodes ? plan.nodes.map((n) => n.name) : [o.node ?? (r.config.controlPlane[0]?.name as string)];
        for (const node of nodes) {
          if (!plan.nodes.some((n) => n.name === node)) throw new InputError(`no node '${node}' in ${o.dir}`);
          infos.push(checkExpiration(plan, r.material, node, now));
        }
      } else {
        const config = configFor(o.dir, o.config);
        const plan = buildPlan(config);
        if (!existsSync(join(o.dir, 'store')))
          throw new InputError(
            `${o.dir}: no PKI store (${join(o.dir, 'store')}): give a directory made by 'pki init' or 'pki adopt', or a folder kubeadm or the hard way wrote`,
          );
        const material = loadStoreStrict(o.dir).material;
        const nodes = o.allNodes ? plan.nodes.map((n) => n.name) : [o.node ?? (config.controlPlane[0]?.name as string)];
        for (const node of nodes) {
          if (!plan.nodes.some((n) => n.name === node)) throw new InputError(`no node '${node}' in this cluster`);
          infos.push(checkExpiration(plan, material, node, now));
        }
      }
      // kubeadm's YAML printer (sigs.k8s.io/yaml) sorts keys, does not indent lists and quotes timestamps.
      const yaml = (v: unknown) => stringify(v, { sortMapEntries: true, indentSeq: false, version: '1.1' });
      if (!o.allNodes) {
        const info = infos[0] as (typeof infos)[number];
        if (format === 'text') process.stdout.write(renderExpirationText(info));
        else if (format === 'json') process.stdout.write(`${JSON.stringify(expirationObject(info), null, 4)}\n`);
        else process.stdout.write(yaml(expirationObject(info)));
        return;
      }
      if (format === 'text') process.stdout.write(infos.map((i) => `== ${i.node} ==\n${renderExpirationText(i)}`).join('\n'));
      else {
        const list = { nodes: infos.map((i) => ({ node: i.node, ...expirationObject(i) })) };
        process.stdout.write(format === 'json' ? `${JSON.stringify(list, null, 4)}\n` : yaml(list));
      }
    });

  pki
    .command('renew')
    .description(
      'renew certificates with kubeadm semantics (same subject, SANs and usages; new key; kubeconfigs rewritten) on every node at once',
    )
    .argument('<names...>', 'all, or kubeadm names: apiserver, admin.conf, etcd-server, ...')
    .requiredOption('--dir <dir>', 'PKI directory')
    .option('--config <file>', 'config (default: DIR/cluster.yaml)')
    .option('--node <name>', 'renew only the certificates of this node (repeatable; default: every node)', collect)
    .option('--ca-passphrase <source>', PASSPHRASE_HELP)
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action(async (names: string[], o: { dir: string; config?: string; node?: string[]; output: string; caPassphrase?: string }) => {
      const format = checkFormat(o.output, ['table', 'json', 'yaml']);
      const progress = progressLine();
      const config = pkiConfig(o.dir, o.config);
      const r = await renewPki({ dir: o.dir, config, names, ...(o.node ? { nodes: o.node } : {}), keys: keyAccess(o), progress });
      progress.done();
      const runs = runsOn(config);
      const restarts = restartsFor(r.changes.nodes, runs);
      printOutput({ renewed: r.renewed, skipped: r.skipped, changes: r.changes, restart: restarts, resumed: r.resumed }, format, () => {
        if (r.resumed.finished?.command === 'renew')
          return `${describeResumed(r.resumed)}Nothing else to do: run the command again to renew once more.\n`;
        const where = o.node ? `on ${o.node.join(', ')}` : 'across all nodes';
        return `${describeResumed(r.resumed)}renewed ${r.renewed.length} certificate(s) ${where}\n${describeChanges(r.changes)}${describeRestarts(r.changes, runs)}${r.skipped.map((s) => `skipped ${s.id}: ${s.why}\n`).join('')}`;
      });
    });

  pki
    .command('rotate-ca')
    .description(`rotate a CA in resumable phases without downtime: ${PHASES.join(' -> ')}`)
    .argument('<ca>', 'ca | front-proxy-ca | etcd-ca')
    .requiredOption('--dir <dir>', 'PKI directory')
    .option('--config <file>', 'config (default: DIR/cluster.yaml)')
    .option('--rollback', 'undo the current phase')
    .option('--status', 'show the rotation state without changing anything')
    .option('--ca-passphrase <source>', PASSPHRASE_HELP)
    .option('--root-key <file>', `${ROOT_KEY_HELP}: new-ca signs the new CA with it`)
    .action(
      async (
        ca: string,
        o: { dir: string; config?: string; rollback?: boolean; status?: boolean; caPassphrase?: string; rootKey?: string },
      ) => {
        const progress = progressLine();
        const config = pkiConfig(o.dir, o.config);
        const r = await rotateCa({
          dir: o.dir,
          config,
          ca,
          action: o.status ? 'status' : o.rollback ? 'rollback' : 'next',
          ...(o.status ? {} : { keys: keyAccess(o) }),
          progress,
        });
        progress.done();
        if (o.status) {
          process.stdout.write(
            r.state
              ? `rotation of ${r.state.ca}: phase ${r.state.phase} (started ${r.state.startedAt})\n`
              : `no rotation of ${ca} in progress\n`,
          );
          const i = r.state ? PHASES.indexOf(r.state.phase) + 1 : 0;
          if (PHASES[i]) process.stdout.write(`next: ${PHASES[i]}: ${PHASE_EFFECTS[PHASES[i]]}\n`);
          if (r.pending)
            process.stdout.write(
              `note: an interrupted '${[r.pending.command, ...r.pending.args].join(' ')}' committed but did not finish; the next pki command in ${o.dir} finishes it\n`,
            );
          return;
        }
        process.stdout.write(describeResumed(r.resumed));
        if (r.to === 'none') {
          const i = r.state ? PHASES.indexOf(r.state.phase) + 1 : 0;
          process.stdout.write(
            r.state
              ? `rotation of ${ca}: phase ${r.state.phase}${PHASES[i] ? `; distribute the node trees, then run the same command again for phase ${PHASES[i]}` : ''}\n`
              : `no rotation of ${ca} in progress\n`,
          );
          return;
        }
        if (r.to === 'rolled-back')
          process.stdout.write(
            `rolled back ${ca} to ${r.state ? `phase ${r.state.phase}` : 'before the rotation'}${r.reissued ? `; re-issued ${r.reissued} certificate(s) from the old CA` : ''}\n`,
          );
        else
          process.stdout.write(
            `${ca}: phase ${r.to}: ${PHASE_EFFECTS[r.to as keyof typeof PHASE_EFFECTS]}${r.reissued ? ` (${r.reissued} re-issued)` : ''}\n`,
          );
        process.stdout.write(describeChanges(r.changes) + describeRestarts(r.changes, runsOn(config)));
        const i = r.state && r.state.phase !== 'done' ? PHASES.indexOf(r.state.phase) + 1 : -1;
        const toShip = r.changes.files > 0 || (r.changes.removed?.files ?? 0) > 0;
        if (i > 0 && PHASES[i])
          process.stdout.write(
            toShip
              ? `Distribute the node trees, then run the same command again for phase ${PHASES[i]}.\n`
              : `Nothing to distribute yet; run the same command again for phase ${PHASES[i]}.\n`,
          );
      },
    );
}
