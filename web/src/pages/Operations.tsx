// Operations: choose one, ask the server for its plan (POST /operations plans only, runs nothing), read the
// exact steps, then confirm to run that plan (409 if the PKI changed since). Progress and log arrive as
// server-sent events; writes must be turned on first (read-only by default) and need a writer token.
import { useEffect, useRef, useState } from 'react';
import { date, ErrorLine, href, type Operation, type OperationKind, useSession } from '../lib.tsx';

const KINDS: { kind: OperationKind; label: string }[] = [
  { kind: 'pki.renew', label: 'Renew certificates (pki renew)' },
  { kind: 'pki.rotate-ca', label: 'Rotate a CA, one phase (pki rotate-ca)' },
  { kind: 'nodes.push', label: 'Push files to nodes (nodes push)' },
  { kind: 'bundles.sync', label: 'Sync trust bundles' },
];

function list(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

export function OperationsPage({ query }: { query: URLSearchParams }) {
  const { api, writes, subscribe } = useSession();
  const [kind, setKind] = useState<OperationKind>((query.get('kind') as OperationKind) || 'pki.renew');
  const [certs, setCerts] = useState(query.get('certs') ?? 'apiserver');
  const [ca, setCa] = useState('ca');
  const [action, setAction] = useState<'next' | 'rollback'>('next');
  const [nodes, setNodes] = useState('');
  const [extra, setExtra] = useState('');
  const [op, setOp] = useState<Operation>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const planRef = useRef<HTMLElement>(null);

  const args = (): Record<string, unknown> => {
    let a: Record<string, unknown> = {};
    if (kind === 'pki.renew') a = { certs: list(certs) };
    else if (kind === 'pki.rotate-ca') a = { ca, action };
    else if (kind === 'nodes.push') a = list(nodes).length ? { nodes: list(nodes) } : {};
    if (extra.trim()) a = { ...a, ...(JSON.parse(extra) as Record<string, unknown>) };
    return a;
  };

  // Follow the operation while it runs: its events, and one read when the stream may have missed the end.
  useEffect(() => {
    if (!op || op.state === 'planned' || op.state === 'done' || op.state === 'failed') return;
    const id = op.id;
    const off = subscribe(['operation'], (e) => {
      const o = e.data as Operation;
      if (o && o.id === id) setOp(o);
    });
    const t = setInterval(() => {
      api.operation(id).then(
        (o) => setOp(o),
        () => {},
      );
    }, 1500);
    return () => {
      off();
      clearInterval(t);
    };
  }, [op, api, subscribe]);

  const plan = async () => {
    setError(undefined);
    setOp(undefined);
    setBusy(true);
    try {
      const o = await api.plan(kind, args());
      setOp(o);
      setTimeout(() => planRef.current?.focus(), 0);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const run = async () => {
    if (!op) return;
    setError(undefined);
    setBusy(true);
    try {
      setOp(await api.run(op.id));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h2>Operations</h2>
      {!writes && (
        <p className="notice" data-testid="read-only">
          Read-only: turn on writes (top right) to plan and run operations. The server also needs a writer token (or
          <code> --allow-writes-on-loopback</code>).
        </p>
      )}
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void plan();
        }}
      >
        <label>
          Operation
          <select value={kind} onChange={(e) => setKind(e.target.value as OperationKind)} name="kind">
            {KINDS.map((k) => (
              <option key={k.kind} value={k.kind}>
                {k.label}
              </option>
            ))}
          </select>
        </label>
        {kind === 'pki.renew' && (
          <label>
            Certificates (all, apiserver, admin.conf, …)
            <input value={certs} onChange={(e) => setCerts(e.target.value)} name="certs" size={30} />
          </label>
        )}
        {kind === 'pki.rotate-ca' && (
          <>
            <label>
              CA
              <select value={ca} onChange={(e) => setCa(e.target.value)}>
                <option>ca</option>
                <option>front-proxy-ca</option>
                <option>etcd-ca</option>
              </select>
            </label>
            <label>
              Step (new-ca → bundle → reissue → done)
              <select value={action} onChange={(e) => setAction(e.target.value as 'next' | 'rollback')}>
                <option value="next">the next phase</option>
                <option value="rollback">roll back the last phase</option>
              </select>
            </label>
          </>
        )}
        {kind === 'nodes.push' && (
          <label>
            Nodes (empty: all)
            <input value={nodes} onChange={(e) => setNodes(e.target.value)} size={24} />
          </label>
        )}
        <label>
          More arguments (JSON, optional)
          <input value={extra} onChange={(e) => setExtra(e.target.value)} size={24} placeholder='{"dryRun": false}' />
        </label>
        <button type="submit" className="primary" disabled={!writes || busy} data-testid="plan">
          Show the plan
        </button>
      </form>
      <ErrorLine error={error} />
      {op && (
        <section className="plan" ref={planRef} tabIndex={-1} aria-labelledby="plan-title" data-testid="plan-box">
          <h3 id="plan-title" style={{ marginTop: 0 }}>
            {op.state === 'planned' ? 'Plan (nothing has run yet)' : `Operation ${op.state}`}: {op.kind}
          </h3>
          <p data-testid="plan-summary">{op.plan.summary}</p>
          <table className="plain">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">action</th>
                <th scope="col">target</th>
                <th scope="col">detail</th>
              </tr>
            </thead>
            <tbody data-testid="plan-steps">
              {op.plan.steps.map((s, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the plan's steps are fixed and ordered
                <tr key={i}>
                  <td>{i + 1}</td>
                  <td>{s.action}</td>
                  <td className="mono">{s.target}</td>
                  <td>{s.detail ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {op.state === 'planned' && (
            <div className="row" style={{ marginTop: 12 }}>
              <button type="button" className="danger" onClick={run} disabled={!writes || busy} data-testid="run">
                Run these {op.plan.steps.length} steps
              </button>
              <button type="button" onClick={() => setOp(undefined)}>
                Cancel
              </button>
            </div>
          )}
          <p className="muted" data-testid="op-state" aria-live="polite">
            {op.id}: {op.state}
            {op.finishedAt ? `, finished ${date(op.finishedAt)}` : ''}
          </p>
          {op.error && <p className="error">{op.error}</p>}
          {op.log.length > 0 && <pre className="log mono">{op.log.join('\n')}</pre>}
          {op.state === 'done' && (
            <p>
              <a href={href('/certificates', { sort: '-notAfter' })}>See the certificates →</a>
            </p>
          )}
        </section>
      )}
    </>
  );
}
