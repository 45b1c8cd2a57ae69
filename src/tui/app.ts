// `anchorage tui`: the terminal UI (Ink). Views: a menu of operations (generate, renew, rotate, push, verify),
// the certificates and nodes tables, the findings, and keyboard help; a live log pane at the bottom shows the
// server's events and the running operation's log. Keyboard only (works over SSH): every view is one key away.
// Written with createElement (no JSX): Node runs these sources directly and strips only types.
import { Box, Text, useApp, useInput, useWindowSize } from 'ink';
import { createElement as h, type ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import type {
  ApiClient,
  CertificateDetail,
  CertificateSummary,
  Cluster,
  Finding,
  Graph,
  NodeFiles,
  Operation,
  OperationKind,
  ServerEvent,
} from './api.ts';

type View = 'menu' | 'certs' | 'nodes' | 'findings' | 'help';
const VIEWS: { key: string; view: View; label: string }[] = [
  { key: 'm', view: 'menu', label: 'Operations' },
  { key: 'c', view: 'certs', label: 'Certificates' },
  { key: 'n', view: 'nodes', label: 'Nodes' },
  { key: 'f', view: 'findings', label: 'Findings' },
  { key: '?', view: 'help', label: 'Help' },
];

const LOG_LINES = 6;
const MAX_LOG = 500;

function pad(s: string, n: number): string {
  if (n <= 0) return '';
  return s.length > n ? `${s.slice(0, Math.max(0, n - 1))}…` : s.padEnd(n);
}

function cn(subject: string): string {
  return /(?:^|,)\s*CN=((?:\\.|[^,])*)/.exec(subject)?.[1] ?? subject;
}

function relDays(iso: string): string {
  const d = Math.floor((Date.parse(iso) - Date.now()) / 86_400_000);
  return d < 0 ? `${-d}d ago` : `in ${d}d`;
}

const HEALTH_COLOR: Record<string, string> = { ok: 'green', expiring: 'yellow', expired: 'red', untrusted: 'red', error: 'red' };
const SEV_COLOR: Record<string, string> = { error: 'red', warning: 'yellow', notice: 'cyan' };

/** Up/down/page/home/end over `count` rows; returns the selected index. */
function useCursor(count: number, active: boolean, page: number): [number, (i: number) => void] {
  const [i, setI] = useState(0);
  useEffect(() => {
    if (i >= count) setI(Math.max(0, count - 1));
  }, [count, i]);
  useInput(
    (input, key) => {
      if (key.upArrow || input === 'k') setI((x) => Math.max(0, x - 1));
      else if (key.downArrow || input === 'j') setI((x) => Math.min(count - 1, x + 1));
      else if (key.pageUp) setI((x) => Math.max(0, x - page));
      else if (key.pageDown) setI((x) => Math.min(count - 1, x + page));
      else if (key.home || input === 'g') setI(0);
      else if (key.end || input === 'G') setI(Math.max(0, count - 1));
    },
    { isActive: active },
  );
  return [i, setI];
}

/** The rows of a list around the cursor that fit in `height`. */
function windowOf<T>(items: T[], cursor: number, height: number): { start: number; rows: T[] } {
  const start = Math.max(0, Math.min(cursor - Math.floor(height / 2), items.length - height));
  return { start, rows: items.slice(start, start + height) };
}

/** A one-line text field: typing edits, Enter submits, Escape cancels. */
function Prompt(props: { label: string; initial: string; onSubmit: (v: string) => void; onCancel: () => void }): ReactNode {
  const [v, setV] = useState(props.initial);
  useInput((input, key) => {
    if (key.return) props.onSubmit(v);
    else if (key.escape) props.onCancel();
    else if (key.backspace || key.delete) setV((s) => s.slice(0, -1));
    else if (input && !key.ctrl && !key.meta) setV((s) => s + input);
  });
  return h(Box, null, h(Text, { color: 'cyan' }, `${props.label}: `), h(Text, null, v), h(Text, { inverse: true }, ' '));
}

interface Shared {
  api: ApiClient;
  log: (line: string) => void;
  height: number;
  width: number;
  /** A view that takes typed text (a prompt) asks the app to leave the single-key shortcuts alone. */
  setTyping: (on: boolean) => void;
  writes: boolean;
}

// ---------- operations menu ----------

interface MenuItem {
  label: string;
  hint: string;
  kind?: OperationKind;
  ask?: { label: string; initial: string; toArgs: (v: string) => Record<string, unknown> };
  verify?: true;
}

const MENU: MenuItem[] = [
  {
    label: 'generate',
    hint: 'a new cluster PKI is made offline: anchorage pki init --config cluster.yaml --out DIR, then serve or open it here with --dir',
  },
  {
    label: 'renew',
    hint: 'renew certificates (pki renew): plan, read, confirm',
    kind: 'pki.renew',
    ask: {
      label: 'certificates (all, apiserver, admin.conf, …)',
      initial: 'all',
      toArgs: (v) => ({ certs: v.split(/[\s,]+/).filter(Boolean) }),
    },
  },
  {
    label: 'rotate',
    hint: "rotate a CA one phase (pki rotate-ca): new-ca → bundle → reissue → done; 'rollback' undoes the last",
    kind: 'pki.rotate-ca',
    ask: {
      label: 'CA [action] (ca, front-proxy-ca, etcd-ca; next or rollback)',
      initial: 'ca next',
      toArgs: (v) => {
        const [ca = 'ca', action = 'next'] = v.split(/\s+/).filter(Boolean);
        return { ca, action };
      },
    },
  },
  {
    label: 'push',
    hint: 'push the PKI folder’s files to the nodes (nodes push)',
    kind: 'nodes.push',
    ask: {
      label: 'nodes (empty: all)',
      initial: '',
      toArgs: (v) => {
        const nodes = v.split(/[\s,]+/).filter(Boolean);
        return nodes.length ? { nodes } : {};
      },
    },
  },
  { label: 'verify', hint: 'check every trust edge and count open findings', verify: true },
];

interface CheckResult {
  at: string;
  nodes: number;
  edges: number;
  broken: { text: string }[];
  findings: Record<string, number>;
}

async function runCheck(api: ApiClient): Promise<CheckResult> {
  const [g, f] = await Promise.all([api.graph({}), api.findings({ state: 'open', limit: 1000 })]);
  const label = new Map((g as Graph).nodes.map((n) => [n.id, n.label]));
  const broken = g.edges
    .filter((e) => !e.ok)
    .map((e) => ({ text: `${label.get(e.from) ?? e.from} ${e.kind} ${label.get(e.to) ?? e.to}: ${e.reason ?? 'broken'}` }));
  const findings: Record<string, number> = { error: 0, warning: 0, notice: 0 };
  for (const x of f.items) findings[x.severity] = (findings[x.severity] ?? 0) + 1;
  return { at: new Date().toISOString(), nodes: g.nodes.length, edges: g.edges.length, broken, findings };
}

function MenuView({ s, active }: { s: Shared; active: boolean }): ReactNode {
  const [stage, setStage] = useState<'choose' | 'ask' | 'planning' | 'plan' | 'running' | 'result' | 'check'>('choose');
  const [cursor] = useCursor(MENU.length, active && stage === 'choose', 5);
  const [op, setOp] = useState<Operation>();
  const [check, setCheck] = useState<CheckResult>();
  const [error, setError] = useState<string>();
  const item = MENU[cursor] as MenuItem;

  const plan = useCallback(
    async (kind: OperationKind, args: Record<string, unknown>) => {
      setStage('planning');
      setError(undefined);
      try {
        const o = await s.api.plan(kind, args);
        setOp(o);
        setStage('plan');
        s.log(`planned ${o.kind} ${o.id}: ${o.plan.summary}`);
      } catch (e) {
        setError((e as Error).message);
        setStage('choose');
      }
    },
    [s],
  );

  useEffect(() => {
    if (stage !== 'running' || !op) return;
    let seen = 0;
    const t = setInterval(() => {
      s.api.operation(op.id).then(
        (o) => {
          for (const line of o.log.slice(seen)) s.log(`${o.kind}: ${line}`);
          seen = o.log.length;
          setOp(o);
          if (o.state === 'done' || o.state === 'failed') {
            s.log(`${o.kind} ${o.id}: ${o.state}${o.error ? `: ${o.error}` : ''}`);
            setStage('result');
          }
        },
        (e: Error) => setError(e.message),
      );
    }, 500);
    return () => clearInterval(t);
  }, [stage, op, s]);

  useInput(
    (input, key) => {
      if (stage === 'choose' && key.return) {
        setError(undefined);
        if (item.verify) {
          setStage('check');
          setCheck(undefined);
          runCheck(s.api).then(
            (r) => {
              setCheck(r);
              s.log(`verify: ${r.broken.length} broken trust edge(s), ${r.findings.error} error finding(s)`);
            },
            (e: Error) => {
              setError(e.message);
              setStage('choose');
            },
          );
        } else if (item.kind) {
          if (!s.writes) setError('read-only: start the TUI with a writer token (--token) or on a PKI folder (--dir) to run operations');
          else if (item.ask) {
            setStage('ask');
            s.setTyping(true);
          } else void plan(item.kind, {});
        }
      } else if (stage === 'plan' && (input === 'y' || input === 'Y') && op) {
        s.api.run(op.id).then(
          (o) => {
            setOp(o);
            s.log(`running ${o.kind} ${o.id}`);
            setStage(o.state === 'done' || o.state === 'failed' ? 'result' : 'running');
          },
          (e: Error) => {
            setError(e.message);
            setStage('choose');
          },
        );
      } else if (stage === 'plan' && (input === 'n' || input === 'N' || key.escape)) {
        s.log(`cancelled ${op?.kind} ${op?.id}: nothing ran`);
        setStage('choose');
      } else if ((stage === 'result' || stage === 'check') && (key.escape || key.return)) setStage('choose');
    },
    { isActive: active && stage !== 'ask' },
  );

  const body: ReactNode[] = [];
  if (stage === 'ask' && item.ask && item.kind) {
    const kind = item.kind;
    const ask = item.ask;
    body.push(
      h(Prompt, {
        key: 'p',
        label: ask.label,
        initial: ask.initial,
        onSubmit: (v) => {
          s.setTyping(false);
          void plan(kind, ask.toArgs(v));
        },
        onCancel: () => {
          s.setTyping(false);
          setStage('choose');
        },
      }),
    );
  } else if (stage === 'planning') body.push(h(Text, { key: 'l' }, 'asking the server for the plan…'));
  else if ((stage === 'plan' || stage === 'running' || stage === 'result') && op) {
    body.push(
      h(
        Text,
        { key: 't', bold: true },
        `${stage === 'plan' ? 'Plan (nothing has run yet)' : `Operation ${op.state}`}: ${op.kind} — ${op.plan.summary}`,
      ),
    );
    for (const [i, st] of op.plan.steps.slice(0, Math.max(1, s.height - 6)).entries())
      body.push(
        h(Text, { key: `s${i}` }, `  ${String(i + 1).padStart(3)}. ${st.action} ${st.target}${st.detail ? ` (${st.detail})` : ''}`),
      );
    if (op.plan.steps.length > s.height - 6)
      body.push(h(Text, { key: 'more', dimColor: true }, `  … ${op.plan.steps.length - (s.height - 6)} more steps`));
    if (stage === 'plan') body.push(h(Text, { key: 'q', color: 'yellow' }, `Run these ${op.plan.steps.length} steps? y runs, n cancels`));
    if (stage === 'running') body.push(h(Text, { key: 'r', color: 'cyan' }, 'running… (its log is below)'));
    if (stage === 'result')
      body.push(
        h(
          Text,
          { key: 'r', color: op.state === 'done' ? 'green' : 'red' },
          `${op.state}${op.error ? `: ${op.error}` : ''} — Enter for the menu`,
        ),
      );
  } else if (stage === 'check') {
    if (!check) body.push(h(Text, { key: 'l' }, 'checking every trust edge…'));
    else {
      body.push(
        h(
          Text,
          { key: 't', bold: true, color: check.broken.length ? 'red' : 'green' },
          `Verify: ${check.broken.length} broken trust edge(s) of ${check.edges} between ${check.nodes} nodes; open findings: ${check.findings.error} error, ${check.findings.warning} warning, ${check.findings.notice} notice`,
        ),
      );
      check.broken.slice(0, Math.max(1, s.height - 4)).forEach((b, i) => {
        body.push(h(Text, { key: `b${i}`, color: 'red' }, `  ✗ ${b.text}`));
      });
      body.push(h(Text, { key: 'e', dimColor: true }, 'Enter for the menu'));
    }
  } else {
    for (const [i, m] of MENU.entries())
      body.push(
        h(Text, { key: m.label, inverse: i === cursor }, `${i === cursor ? '›' : ' '} ${pad(m.label, 10)} ${m.kind ? `(${m.kind})` : ''}`),
      );
    body.push(h(Text, { key: 'hint', dimColor: true, wrap: 'wrap' }, item.hint));
  }
  if (error) body.push(h(Text, { key: 'err', color: 'red', wrap: 'wrap' }, `error: ${error}`));
  return h(Box, { flexDirection: 'column' }, ...body);
}

// ---------- certificates ----------

function CertDetail({ c }: { c: CertificateDetail }): ReactNode {
  const lines: [string, string, string?][] = [
    ['subject', c.subject],
    ['issuer', c.issuer],
    ['serial', c.serial],
    ['sha256', c.sha256],
    ['valid', `${c.notBefore} → ${c.notAfter} (${relDays(c.notAfter)})`, HEALTH_COLOR[c.health]],
    ['health', c.health, HEALTH_COLOR[c.health]],
    ['SANs', c.sans.join(', ') || '—'],
    ['key', c.keyType],
    ['role', c.role ?? '—'],
    ['chain', c.chain.length ? `${c.chain.length} certificate(s) to an anchor` : 'no verified chain', c.chain.length ? undefined : 'red'],
    ['seen at', c.locations.map((l) => `${l.kind}:${l.where}`).join(', ') || '—'],
    ['key seen at', c.keyLocations.map((l) => `${l.kind}:${l.where}`).join(', ') || '—'],
  ];
  return h(
    Box,
    { flexDirection: 'column' },
    ...lines.map(([k, v, color]) =>
      h(Text, { key: k, wrap: 'truncate-end' }, h(Text, { dimColor: true }, pad(k, 12)), h(Text, color ? { color } : {}, v)),
    ),
    h(Text, { key: 'tb', bold: true }, 'who trusts it'),
    ...c.trustedBy.map((t) =>
      h(
        Text,
        { key: `t${t.kind}${t.consumer}`, color: t.verdict === 'ok' ? 'green' : 'red', wrap: 'truncate-end' },
        `  ${t.verdict} ${t.consumer} (${t.kind}): ${t.why}`,
      ),
    ),
    h(Text, { key: 'fb', bold: true }, `findings (${c.findings.length})`),
    ...c.findings.map((f) =>
      h(
        Text,
        { key: f.key, wrap: 'wrap' },
        h(Text, { color: SEV_COLOR[f.severity] }, `  ${f.severity} ${f.id}: `),
        `${f.why} — fix: ${f.fix}`,
      ),
    ),
    h(Text, { key: 'esc', dimColor: true }, 'Esc: back to the table'),
  );
}

function CertsView({ s, active }: { s: Shared; active: boolean }): ReactNode {
  const [q, setQ] = useState('');
  const [typing, setTyping] = useState(false);
  const [list, setList] = useState<{ items: CertificateSummary[]; total: number }>();
  const [detail, setDetail] = useState<CertificateDetail>();
  const [error, setError] = useState<string>();
  const rows = Math.max(3, s.height - 3);
  const [cursor] = useCursor(list?.items.length ?? 0, active && !typing && !detail, rows);
  const load = useCallback(() => {
    s.api.all<CertificateSummary>('/certificates', { q, sort: 'notAfter' }, 5000).then(
      (l) => {
        setList(l);
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  }, [s.api, q]);
  useEffect(load, [load]);
  useInput(
    (input, key) => {
      if (detail) {
        if (key.escape || key.backspace) setDetail(undefined);
        return;
      }
      if (input === '/') {
        setTyping(true);
        s.setTyping(true);
      } else if (input === 'r') load();
      else if (key.return) {
        const c = list?.items[cursor];
        if (c)
          s.api.certificate(c.sha256, c.cluster).then(
            (d) => setDetail(d),
            (e: Error) => setError(e.message),
          );
      }
    },
    { isActive: active && !typing },
  );
  if (typing)
    return h(Prompt, {
      label: 'search (subject, SAN, serial, sha256)',
      initial: q,
      onSubmit: (v) => {
        setQ(v);
        setTyping(false);
        s.setTyping(false);
      },
      onCancel: () => {
        setTyping(false);
        s.setTyping(false);
      },
    });
  if (detail) return h(CertDetail, { c: detail });
  const w = s.width;
  const cols = [Math.max(16, Math.floor(w * 0.3)), 18, 10, 10, 8, Math.max(10, w - Math.floor(w * 0.3) - 18 - 10 - 10 - 8 - 8)];
  const items = list?.items ?? [];
  const win = windowOf(items, cursor, rows);
  return h(
    Box,
    { flexDirection: 'column' },
    h(
      Text,
      { bold: true },
      `${pad('subject', cols[0] as number)} ${pad('role', cols[1] as number)} ${pad('expires', cols[2] as number)} ${pad('health', cols[3] as number)} ${pad('findings', cols[4] as number)} ${pad('SANs', cols[5] as number)}`,
    ),
    ...win.rows.map((c, i) =>
      h(
        Text,
        { key: `${c.cluster}/${c.sha256}`, inverse: win.start + i === cursor, wrap: 'truncate-end' },
        `${pad(cn(c.subject) + (c.isCA ? ' (CA)' : ''), cols[0] as number)} ${pad(c.role ?? '—', cols[1] as number)} ${pad(relDays(c.notAfter), cols[2] as number)} `,
        h(Text, { color: HEALTH_COLOR[c.health] }, pad(c.health, cols[3] as number)),
        ` ${pad(c.findings ? `${c.findings} ${c.worstSeverity ?? ''}` : '—', cols[4] as number)} ${pad(c.sans.join(','), cols[5] as number)}`,
      ),
    ),
    h(
      Text,
      { dimColor: true },
      `${list ? `${list.total} certificate(s)${list.total > items.length ? `, first ${items.length} shown` : ''}` : 'loading…'}${q ? ` matching '${q}'` : ''} — / search, Enter details, r reload`,
    ),
    error ? h(Text, { color: 'red' }, `error: ${error}`) : null,
  );
}

// ---------- nodes ----------

function NodesView({ s, active }: { s: Shared; active: boolean }): ReactNode {
  const [nodes, setNodes] = useState<NodeFiles[]>();
  const [error, setError] = useState<string>();
  const [cursor] = useCursor(nodes?.length ?? 0, active, 10);
  useEffect(() => {
    s.api.nodes({}).then(
      (r) => setNodes(r.items),
      (e: Error) => setError(e.message),
    );
  }, [s.api]);
  const sel = nodes?.[cursor];
  const drift = sel?.files.filter((f) => f.state !== 'ok') ?? [];
  return h(
    Box,
    { flexDirection: 'column' },
    h(
      Text,
      { bold: true },
      `${pad('node', 20)} ${pad('cluster', 12)} ${pad('reachable', 10)} ${pad('ok', 5)} ${pad('missing', 8)} ${pad('differs', 8)} ${pad('extra', 6)}`,
    ),
    ...(nodes ?? []).map((n, i) => {
      const c = (st: string) => n.files.filter((f) => f.state === st).length;
      return h(
        Text,
        { key: `${n.cluster}/${n.node}`, inverse: i === cursor },
        `${pad(n.node, 20)} ${pad(n.cluster, 12)} `,
        h(Text, { color: n.reachable ? 'green' : 'red' }, pad(n.reachable ? 'yes' : 'no', 10)),
        ` ${pad(String(c('ok')), 5)} ${pad(String(c('missing')), 8)} ${pad(String(c('differs')), 8)} ${pad(String(c('extra')), 6)}`,
      );
    }),
    sel && !sel.reachable && sel.reason ? h(Text, { color: 'red' }, `${sel.node}: ${sel.reason}`) : null,
    sel ? h(Text, { bold: true }, `${sel.node}: ${drift.length} file(s) that drift`) : null,
    ...drift
      .slice(0, Math.max(1, s.height - (nodes?.length ?? 0) - 4))
      .map((f) => h(Text, { key: f.path, color: f.state === 'extra' ? 'yellow' : 'red' }, `  ${pad(f.state, 8)} ${f.path}`)),
    !nodes && !error ? h(Text, null, 'loading…') : null,
    error ? h(Text, { color: 'red' }, `error: ${error}`) : null,
  );
}

// ---------- findings ----------

function FindingsView({ s, active }: { s: Shared; active: boolean }): ReactNode {
  const [items, setItems] = useState<Finding[]>();
  const [error, setError] = useState<string>();
  const rows = Math.max(3, Math.floor((s.height - 2) / 2));
  const [cursor] = useCursor(items?.length ?? 0, active, rows);
  const load = useCallback(() => {
    s.api.all<Finding>('/findings', { state: 'open' }, 5000).then(
      (r) => setItems(r.items),
      (e: Error) => setError(e.message),
    );
  }, [s.api]);
  useEffect(load, [load]);
  useInput((input) => input === 'r' && load(), { isActive: active });
  const list = items ?? [];
  const win = windowOf(list, cursor, rows);
  const sel = list[cursor];
  return h(
    Box,
    { flexDirection: 'column' },
    ...win.rows.map((f, i) =>
      h(
        Text,
        { key: f.key, inverse: win.start + i === cursor, wrap: 'truncate-end' },
        h(Text, { color: SEV_COLOR[f.severity] }, pad(f.severity, 8)),
        ` ${pad(f.id, 34)} ${pad(f.subject ? cn(f.subject) : '', 24)} ${f.locations[0] ?? ''}`,
      ),
    ),
    sel ? h(Text, { wrap: 'wrap' }, h(Text, { bold: true }, 'why: '), sel.why) : null,
    sel ? h(Text, { wrap: 'wrap' }, h(Text, { bold: true, color: 'green' }, 'fix: '), sel.fix) : null,
    h(Text, { dimColor: true }, items ? `${list.length} open finding(s) — r reload` : 'loading…'),
    error ? h(Text, { color: 'red' }, `error: ${error}`) : null,
  );
}

// ---------- help ----------

function HelpView(): ReactNode {
  const keys: [string, string][] = [
    ['m c n f ?', 'operations menu, certificates, nodes, findings, this help'],
    ['Tab', 'next view'],
    ['↑ ↓  j k', 'move; PgUp PgDn, g G (Home End) jump'],
    ['Enter', 'choose / open details'],
    ['Esc', 'back'],
    ['/', 'search the certificates'],
    ['r', 'reload the view'],
    ['y n', 'run or cancel a planned operation'],
    ['q  Ctrl-C', 'quit'],
  ];
  return h(
    Box,
    { flexDirection: 'column' },
    h(Text, { bold: true }, 'Keyboard'),
    ...keys.map(([k, v]) => h(Text, { key: k }, h(Text, { color: 'cyan' }, pad(k, 12)), v)),
    h(Text, null, ''),
    h(
      Text,
      { wrap: 'wrap' },
      'Every operation is planned first: the server answers with the exact steps and nothing runs until you press y. The log pane shows the server’s live events and the running operation’s log.',
    ),
  );
}

// ---------- the app ----------

export interface AppProps {
  api: ApiClient;
  /** What the header names: the server's URL or the PKI folder. */
  target: string;
  writes: boolean;
}

export function App({ api, target, writes }: AppProps): ReactNode {
  const { exit } = useApp();
  const size = useWindowSize();
  const [view, setView] = useState<View>('menu');
  const [typing, setTyping] = useState(false);
  const [log, setLog] = useState<string[]>([]);
  const [live, setLive] = useState('connecting');
  const [clusters, setClusters] = useState<Cluster[]>();
  const logRef = useRef(setLog);
  const addLog = useCallback((line: string) => {
    const t = new Date().toISOString().slice(11, 19);
    logRef.current((l) => [...l, `${t} ${line}`].slice(-MAX_LOG));
  }, []);

  useEffect(() => {
    api.clusters().then(
      (r) => setClusters(r.items),
      (e: Error) => addLog(`error: ${e.message}`),
    );
    const ctl = new AbortController();
    void api.events(
      (e: ServerEvent) => {
        const d = e.data as Record<string, unknown>;
        const what =
          e.event === 'certificate'
            ? d.deleted
              ? `removed ${String(d.sha256).slice(0, 12)}`
              : `${cn(String(d.subject ?? ''))} ${String(d.health ?? '')}`
            : e.event === 'finding'
              ? `${String(d.severity ?? '')} ${String(d.id ?? '')}${d.resolvedAt ? ' resolved' : ''}`
              : e.event === 'operation'
                ? `${String(d.kind ?? '')} ${String(d.state ?? '')}`
                : `${String(d.name ?? '')} ${String(d.status ?? '')}`;
        addLog(`${e.event}: ${what}`);
        if (e.event === 'cluster' || e.event === 'source')
          api.clusters().then(
            (r) => setClusters(r.items),
            () => {},
          );
      },
      ctl.signal,
      (state, why) => {
        setLive(state);
        if (state === 'closed' && why) addLog(`events: ${why}`);
      },
    );
    return () => ctl.abort();
  }, [api, addLog]);

  useInput(
    (input, key) => {
      if (input === 'q') exit();
      const v = VIEWS.find((x) => x.key === input);
      if (v) setView(v.view);
      else if (key.tab) setView((cur) => VIEWS[(VIEWS.findIndex((x) => x.view === cur) + 1) % VIEWS.length]?.view ?? 'menu');
    },
    { isActive: !typing },
  );

  const height = Math.max(10, size.rows - LOG_LINES - 5);
  const s: Shared = { api, log: addLog, height, width: Math.max(40, size.columns - 2), setTyping, writes };
  const counts = (clusters ?? []).reduce((t, c) => ({ certs: t.certs + c.counts.certificates, errors: t.errors + c.counts.error }), {
    certs: 0,
    errors: 0,
  });
  const views: Record<View, ReactNode> = {
    menu: h(MenuView, { s, active: view === 'menu' }),
    certs: h(CertsView, { s, active: view === 'certs' }),
    nodes: h(NodesView, { s, active: view === 'nodes' }),
    findings: h(FindingsView, { s, active: view === 'findings' }),
    help: h(HelpView),
  };
  return h(
    Box,
    { flexDirection: 'column', width: size.columns, height: size.rows - 1 },
    h(
      Box,
      null,
      h(Text, { bold: true, color: 'cyan' }, 'Anchorage '),
      h(Text, null, `${target} `),
      h(Text, { color: live === 'open' ? 'green' : 'red' }, live === 'open' ? '● live ' : `○ ${live} `),
      h(
        Text,
        { dimColor: true },
        `${clusters ? `${clusters.length} cluster(s), ${counts.certs} certificates, ${counts.errors} error findings` : ''}${writes ? '' : ' · read-only'}`,
      ),
    ),
    h(
      Box,
      null,
      ...VIEWS.map((v) => h(Text, { key: v.key, inverse: v.view === view }, ` ${v.key} ${v.label} `)),
      h(Text, { dimColor: true }, '  Tab next · q quit'),
    ),
    h(Box, { flexDirection: 'column', flexGrow: 1, borderStyle: 'single', paddingX: 1, overflow: 'hidden' }, views[view]),
    h(
      Box,
      { flexDirection: 'column', height: LOG_LINES + 1 },
      h(Text, { dimColor: true }, '── log ──'),
      ...log.slice(-LOG_LINES).map((l, i) => h(Text, { key: i, wrap: 'truncate-end', color: /error|fail/.test(l) ? 'red' : undefined }, l)),
    ),
  );
}
