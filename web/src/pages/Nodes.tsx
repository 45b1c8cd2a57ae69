// Nodes × files: one row per node, one column per file path any node should hold or holds; each cell says
// whether the node's copy is what the PKI folder says (ok), missing, different (drift) or extra.
import { ClusterFilter, ErrorLine, Loading, type NodeFiles, setQuery, useLoad, useSession } from '../lib.tsx';

const MARK = { ok: '✓', missing: '✗', differs: '≠', extra: '+' } as const;

export function NodesPage({ query }: { query: URLSearchParams }) {
  const { api } = useSession();
  const cluster = query.get('cluster') ?? undefined;
  const driftOnly = query.get('drift') === '1';
  const nodes = useLoad(() => api.nodes({ cluster }), [cluster], ['source', 'cluster', 'operation']);
  const items: NodeFiles[] = nodes.data?.items ?? [];
  const paths = [...new Set(items.flatMap((n) => n.files.filter((f) => !driftOnly || f.state !== 'ok').map((f) => f.path)))].sort();
  const drift = items.reduce((s, n) => s + n.files.filter((f) => f.state !== 'ok').length, 0);
  return (
    <>
      <h2>Nodes × files</h2>
      <div className="filters">
        <ClusterFilter value={cluster} />
        <label className="row" style={{ flexDirection: 'row' }}>
          <input type="checkbox" checked={driftOnly} onChange={(e) => setQuery({ drift: e.target.checked ? '1' : undefined })} />
          only files that drift
        </label>
      </div>
      <ErrorLine error={nodes.error} />
      <Loading loading={nodes.loading && !nodes.data} />
      <p data-testid="drift">
        {items.length} nodes, {paths.length} files, {drift} cells that drift. Legend: ✓ as expected, ✗ missing, ≠ differs, + extra.
      </p>
      <div className="matrix">
        <table>
          <thead>
            <tr>
              <th scope="col">node</th>
              {paths.map((p) => (
                <th key={p} scope="col" className="path mono" title={p}>
                  {p}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {items.map((n) => {
              const by = new Map(n.files.map((f) => [f.path, f]));
              return (
                <tr key={`${n.cluster}/${n.node}`}>
                  <th scope="row" style={{ textAlign: 'left' }}>
                    {n.node} <span className="muted">{n.cluster}</span>
                    {!n.reachable && <div className="error">unreachable{n.reason ? `: ${n.reason}` : ''}</div>}
                  </th>
                  {paths.map((p) => {
                    const f = by.get(p);
                    if (!f) return <td key={p} aria-label="not expected" />;
                    return (
                      <td
                        key={p}
                        className={`s-${f.state}`}
                        title={`${n.node}: ${p}: ${f.state}${f.sha256 ? `\nhas ${f.sha256.slice(0, 16)}` : ''}${f.expected ? `\nexpected ${f.expected.slice(0, 16)}` : ''}`}
                        aria-label={`${p}: ${f.state}`}
                      >
                        {MARK[f.state]}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
