// `anchorage nodes plan|push|rollback|status|pull|history|verify`: the PKI on real machines over SSH
// (docs/nodes.md). Exit 0 when every node succeeded, 1 when some node failed (one line each), 2 on bad input.
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { resolveSecret } from '../../common/secret-source.ts';
import type { NodeOutcome } from '../../nodes/fleet.ts';
import { collect } from '../args.ts';
import { checkFormat, printOutput, renderTable } from '../output.ts';

const FORMATS = ['table', 'json', 'yaml'] as const;

interface Common {
  dir: string;
  config?: string;
  node?: string[];
  parallel?: string;
  acceptNew?: boolean;
  timeout?: string;
  becomePassword?: string;
  output: string;
}

function common(c: Command): Command {
  return c
    .requiredOption('--dir <dir>', 'PKI directory written by `anchorage pki init`')
    .option('--config <file>', 'cluster config with the ssh settings (default: DIR/cluster.yaml)')
    .option('--node <name>', 'only this node (repeatable; default: every node)', collect)
    .option('--parallel <n>', 'nodes worked on at once', '32')
    .option(
      '--accept-new',
      "trust an unknown host key on first use and add it to known_hosts (OpenSSH's accept-new); a changed key is always refused",
    )
    .option('--timeout <seconds>', 'bound on connecting to one node', '15')
    .option(
      '--become-password <source>',
      'sudo password for nodes set to `sudo` when sudo asks for one: env:NAME, file:PATH or prompt (never logged)',
    )
    .option('-o, --output <format>', 'table|json|yaml', 'table');
}

function options(o: Common) {
  const parallel = Number(o.parallel);
  const timeout = Number(o.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3600) throw new InputError('--timeout: expected 1 to 3600 seconds');
  return {
    dir: o.dir,
    ...(o.config !== undefined && { config: o.config }),
    ...(o.node && { nodes: o.node }),
    parallel,
    ...(o.acceptNew && { acceptNew: true }),
    ...(o.becomePassword !== undefined && { becomePassword: resolveSecret(o.becomePassword, '--become-password') }),
    timeoutMs: timeout * 1000,
  };
}

/** Exit 1 when a node failed; its one line goes to stderr too (the table also shows it). */
function finish(results: NodeOutcome<unknown>[], extraFailure = false, historyError?: string): void {
  const failed = results.filter((r) => !r.ok);
  for (const f of failed) process.stderr.write(`error: ${f.node}: ${f.error}\n`);
  if (failed.length) process.stderr.write(`${failed.length} of ${results.length} node(s) failed\n`);
  if (historyError) process.stderr.write(`error: ${historyError}\n`);
  if (failed.length || extraFailure || historyError) process.exitCode = 1;
}

interface HistoryOpts {
  history?: string | boolean;
}
const HISTORY_HELP = 'where runs are recorded: sqlite:PATH, PATH or postgres://… (default $ANCHORAGE_NODES_DB, else DIR/history.sqlite)';
/** --history URL / --no-history, for the commands that record their runs. */
const recorded = (c: Command): Command => c.option('--history <url>', HISTORY_HELP).option('--no-history', 'do not record this run');
const historyOption = (o: HistoryOpts) =>
  o.history === false ? { history: false as const } : typeof o.history === 'string' ? { history: o.history } : {};

const view = <T>(r: NodeOutcome<T>) => (r.ok ? { node: r.node, ok: true, ...r.result } : { node: r.node, ok: false, error: r.error });

export function register(program: Command): void {
  const nodes = program.command('nodes').description('push the PKI to the nodes over SSH, track what each holds, verify cross-node trust');

  common(
    nodes.command('plan').description('what a push would change on each node (new/changed/same/stale per file); changes nothing'),
  ).action(async (o: Common) => {
    const format = checkFormat(o.output, FORMATS);
    const { nodesPlan } = await import('../../nodes/service.ts');
    const res = await nodesPlan(options(o));
    printOutput({ nodes: res.map(view) }, format, () => {
      const rows: string[][] = [];
      for (const r of res) {
        if (!r.ok) {
          rows.push([r.node, 'FAILED', '', r.error ?? '']);
          continue;
        }
        const files = r.result?.files ?? [];
        if (!files.some((f) => f.state !== 'same')) rows.push([r.node, '-', 'same', `${files.length} file(s) up to date`]);
        for (const f of files) if (f.state !== 'same') rows.push([r.node, f.path, f.state, f.why ?? '']);
        if (r.result?.temps.length) rows.push([r.node, '-', 'temps', `${r.result.temps.length} leftover temp file(s) of a killed push`]);
      }
      return renderTable(['NODE', 'PATH', 'STATE', 'DETAIL'], rows);
    });
    finish(res);
  });

  recorded(common(nodes.command('push').description('write each node exactly its manifest files, atomically, with backups; resumable')))
    .option('--prune', 'also remove stale certificate/key files the manifest does not list (backed up first)')
    .option('--no-hook', 'do not run the post-push hooks')
    .action(async (o: Common & HistoryOpts & { prune?: boolean; hook?: boolean }) => {
      const format = checkFormat(o.output, FORMATS);
      const { nodesPush } = await import('../../nodes/service.ts');
      const { nodes: res, historyError } = await nodesPush({
        ...options(o),
        ...historyOption(o),
        ...(o.prune && { prune: true }),
        ...(o.hook === false && { hook: false }),
      });
      printOutput({ nodes: res.map(view) }, format, () =>
        renderTable(
          ['NODE', 'RESULT', 'NEW', 'CHANGED', 'SAME', 'STALE', 'DETAIL'],
          res.map((r) => {
            if (!r.ok || !r.result) return [r.node, 'failed', '', '', '', '', r.error ?? ''];
            const n = (s: string) => String(r.result?.files.filter((f) => f.state === s).length ?? 0);
            const detail = [
              r.result.resumed ? 'resumed an interrupted push' : '',
              r.result.hook ? `hook exit ${r.result.hook.exit}` : '',
              r.result.temps.length ? `${r.result.temps.length} leftover temp(s) removed` : '',
            ]
              .filter(Boolean)
              .join('; ');
            return [r.node, r.result.changed ? 'pushed' : 'unchanged', n('new'), n('changed'), n('same'), n('stale'), detail];
          }),
        ),
      );
      finish(res, false, historyError);
    });

  recorded(
    common(nodes.command('rollback').description('restore on each node what the last push replaced (and remove what it added)')),
  ).action(async (o: Common & HistoryOpts) => {
    const format = checkFormat(o.output, FORMATS);
    const { nodesRollback } = await import('../../nodes/service.ts');
    const { nodes: res, historyError } = await nodesRollback({ ...options(o), ...historyOption(o) });
    printOutput({ nodes: res.map(view) }, format, () =>
      renderTable(
        ['NODE', 'RESULT', 'RESTORED', 'REMOVED', 'DETAIL'],
        res.map((r) =>
          r.ok && r.result
            ? [r.node, 'rolled back', String(r.result.restored), String(r.result.removed), `push ${r.result.backup}`]
            : [r.node, 'failed', '', '', r.error ?? ''],
        ),
      ),
    );
    finish(res, false, historyError);
  });

  const statusCmd = (name: 'status' | 'pull', what: string) =>
    recorded(common(nodes.command(name).description(what))).option(
      '--warn-days <n>',
      'report certificates expiring within this many days',
      '30',
    );
  const statusAction = (pull: boolean) => async (o: Common & HistoryOpts & { out?: string; warnDays: string }) => {
    const format = checkFormat(o.output, FORMATS);
    const warnDays = Number(o.warnDays);
    if (!Number.isInteger(warnDays) || warnDays < 0 || warnDays > 36500) throw new InputError('--warn-days: expected 0 to 36500');
    const { nodesStatus } = await import('../../nodes/service.ts');
    const { nodes: res, historyError } = await nodesStatus({
      ...options(o),
      warnDays,
      ...historyOption(o),
      ...(pull && o.out ? { pullTo: o.out } : {}),
    });
    printOutput({ nodes: res.map(view) }, format, () => {
      const head = renderTable(
        ['NODE', 'OK', 'DRIFT', 'MISSING', 'UNKNOWN', 'EARLIEST EXPIRY', 'DETAIL'],
        res.map((r) => {
          if (!r.ok || !r.result) return [r.node, '', '', '', '', '', `FAILED: ${r.error}`];
          const c = r.result.counts;
          const e = r.result.earliestExpiry;
          return [
            r.node,
            String(c.ok),
            String(c.drift),
            String(c.missing),
            String(c.unknown),
            e ? `${e.notAfter.slice(0, 10)} (${e.daysLeft}d)` : '-',
            r.result.findings.length ? `${r.result.findings.length} finding(s)` : '',
          ];
        }),
      );
      const lines: string[] = [];
      for (const r of res)
        for (const f of r.result?.files ?? [])
          if (f.state !== 'ok') lines.push(`  ${r.node}: ${f.path}: ${f.state}${f.why ? ` (${f.why})` : ''}`);
      for (const r of res) for (const f of r.result?.findings ?? []) lines.push(`  ${r.node}: ${f.id}: ${f.message}`);
      return lines.length ? `${head}\n${lines.join('\n')}\n` : head;
    });
    const trouble = res.some(
      (r) => r.result && (r.result.counts.drift || r.result.counts.missing || r.result.findings.some((f) => f.id !== 'expiring')),
    );
    finish(res, trouble, historyError);
  };
  statusCmd(
    'status',
    'what each node holds now: drift against the manifest, unknown files, expiry, misplaced CA keys (exit 1 on any)',
  ).action(statusAction(false));
  statusCmd('pull', 'status, and copy what each node holds to OUT/<node>/<path> (a source for `anchorage scan`)')
    .requiredOption('--out <dir>', 'where the node files go')
    .action(statusAction(true));

  nodes
    .command('history')
    .description('recorded runs of status, pull, push and rollback, newest first')
    .requiredOption('--dir <dir>', 'PKI directory')
    .option('--history <url>', HISTORY_HELP)
    .option('--node <name>', 'only this node')
    .option('--command <name>', 'only this command: status, pull, push or rollback')
    .option('--files', 'with the files each status saw (path, state, SHA-256)')
    .option('--limit <n>', 'rows', '50')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action(
      async (o: { dir: string; history?: string; node?: string; command?: string; files?: boolean; limit: string; output: string }) => {
        const format = checkFormat(o.output, FORMATS);
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new InputError('--limit: expected 1 to 100000');
        const commands = ['status', 'pull', 'push', 'rollback'] as const;
        const command = o.command as (typeof commands)[number] | undefined;
        if (command !== undefined && !commands.includes(command)) throw new InputError(`--command: expected ${commands.join(', ')}`);
        const { historyUrl } = await import('../../nodes/service.ts');
        const { readHistory } = await import('../../nodes/history.ts');
        const { openStore } = await import('../../store/open.ts');
        const url = o.history ?? historyUrl(o.dir);
        const { existsSync } = await import('node:fs');
        const { parseStoreUrl } = await import('../../store/store.ts');
        const target = parseStoreUrl(url);
        if (target.engine === 'sqlite' && target.target !== ':memory:' && !existsSync(target.target))
          throw new InputError(`${target.target}: no history yet (run 'anchorage nodes status' or 'push')`);
        const store = await openStore(url);
        let rows: Awaited<ReturnType<typeof readHistory>>;
        try {
          rows = await readHistory(store, {
            limit,
            ...(o.node !== undefined && { node: o.node }),
            ...(command !== undefined && { command }),
            ...(o.files && { files: true }),
          });
        } finally {
          await store.close();
        }
        printOutput({ history: rows }, format, () =>
          renderTable(
            ['AT', 'COMMAND', 'NODE', 'RESULT', 'OK', 'DRIFT', 'MISSING', 'UNKNOWN', 'FINDINGS', 'CHANGED', 'DETAIL'],
            rows.map((r) => [
              r.at,
              r.command,
              r.node,
              r.ok ? 'ok' : 'failed',
              String(r.ok_files),
              String(r.drift),
              String(r.missing),
              String(r.unknown),
              String(r.findings),
              String(r.changed),
              r.error ?? (r.backup ? `push ${r.backup}` : r.earliestExpiry ? `earliest expiry ${r.earliestExpiry.slice(0, 10)}` : ''),
            ]),
          ),
        );
      },
    );

  common(
    nodes
      .command('verify')
      .description("cross-node trust: from each node, TLS handshakes with its own client certificates to every other node's endpoints"),
  )
    .option('--predict', 'make no handshake: the trust engine predicts every cell from the files the nodes hold')
    .option('--from-pulled <dir>', 'connect to nothing: predict every cell from what `nodes pull --out DIR` copied')
    .action(async (o: Common & { predict?: boolean; fromPulled?: string }) => {
      const format = checkFormat(o.output, FORMATS);
      const { nodesVerify } = await import('../../nodes/service.ts');
      const rows = await nodesVerify({
        ...options(o),
        ...(o.predict && { predictOnly: true }),
        ...(o.fromPulled !== undefined && { fromPulled: o.fromPulled }),
      });
      const names = rows.map((r) => r.from);
      const mark = (cells: { result: string }[]): string =>
        cells.length === 0
          ? '-'
          : cells.every((c) => c.result === 'ok')
            ? 'ok'
            : cells.every((c) => c.result === 'ok' || c.result === 'predicted-ok')
              ? 'ok*'
              : 'FAIL';
      printOutput({ matrix: rows }, format, () => {
        const table = renderTable(
          ['FROM \\ TO', ...names],
          rows.map((r) => [
            r.from,
            ...names.map((n) => (n === r.from ? '' : r.ok ? mark(r.to.find((t) => t.node === n)?.cells ?? []) : 'error')),
          ]),
        );
        const why: string[] = [];
        for (const r of rows) {
          if (!r.ok) why.push(`  ${r.from}: ${r.error}`);
          for (const t of r.to)
            for (const c of t.cells)
              if (c.result === 'fail' || c.result === 'predicted-fail')
                why.push(
                  `  ${r.from} -> ${t.node} ${c.service}:${c.port}: ${c.result === 'predicted-fail' ? '(predicted) ' : ''}${c.reason}`,
                );
        }
        return `${table}${'ok: every handshake succeeded; ok*: some predicted (nothing listened); -: no credential for that node\n'}${why.length ? `\n${why.join('\n')}\n` : ''}`;
      });
      const failed = rows.some((r) => !r.ok || r.to.some((t) => t.cells.some((c) => c.result === 'fail' || c.result === 'predicted-fail')));
      for (const r of rows) if (!r.ok) process.stderr.write(`error: ${r.from}: ${r.error}\n`);
      if (failed) process.exitCode = 1;
    });
}
