// Overview: each cluster with its counts and sources (last scan), findings by severity, the soonest expiries.
import { type Cluster, date, ErrorLine, ExpiryRows, href, Loading, useLoad, useSession } from '../lib.tsx';

function ClusterCard({ c }: { c: Cluster }) {
  return (
    <section className="card" aria-labelledby={`cl-${c.name}`}>
      <h3 id={`cl-${c.name}`} style={{ marginTop: 0 }}>
        {c.name} <span className="muted">({c.kind})</span>{' '}
        <span className={`badge ${c.status === 'ok' ? 'health-ok' : c.status === 'stale' ? 'health-expiring' : 'health-error'}`}>
          {c.status}
        </span>
      </h3>
      {c.reason && <p className="error">{c.reason}</p>}
      <div className="cards" style={{ gridTemplateColumns: 'repeat(3, 1fr)', marginBottom: 8 }}>
        <a className="card" href={href('/certificates', { cluster: c.name })}>
          <div className="big" data-testid="count-certificates">
            {c.counts.certificates}
          </div>
          certificates
        </a>
        <a className="card" href={href('/certificates', { cluster: c.name, health: 'expiring' })}>
          <div className="big">{c.counts.expiring}</div>expiring
        </a>
        <a className="card" href={href('/certificates', { cluster: c.name, health: 'expired' })}>
          <div className="big">{c.counts.expired}</div>expired
        </a>
      </div>
      <p>
        Findings:{' '}
        {(['error', 'warning', 'notice'] as const).map((s) => (
          <a key={s} href={href('/findings', { cluster: c.name, severity: s })} style={{ marginRight: 8 }}>
            <span className={`badge sev-${s}`}>
              {c.counts[s]} {s}
            </span>
          </a>
        ))}
      </p>
      <p className="muted">Last scan: {date(c.lastScan)}</p>
      <table className="plain">
        <caption className="muted" style={{ textAlign: 'left' }}>
          Sources
        </caption>
        <thead>
          <tr>
            <th scope="col">source</th>
            <th scope="col">status</th>
            <th scope="col">objects</th>
            <th scope="col">last success</th>
          </tr>
        </thead>
        <tbody>
          {c.sources.map((s) => (
            <tr key={s.name}>
              <td className="mono">{s.name}</td>
              <td>
                {s.status}
                {s.reason ? `: ${s.reason}` : ''}
              </td>
              <td>{s.objects}</td>
              <td>{date(s.lastSuccess)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function OverviewPage() {
  const { api } = useSession();
  const clusters = useLoad(() => api.clusters(), [], ['cluster', 'source']);
  const soon = useLoad(() => api.timeline({}), [], ['certificate']);
  const totals = (clusters.data?.items ?? []).reduce(
    (t, c) => ({
      certificates: t.certificates + c.counts.certificates,
      expiring: t.expiring + c.counts.expiring,
      expired: t.expired + c.counts.expired,
      error: t.error + c.counts.error,
      warning: t.warning + c.counts.warning,
      notice: t.notice + c.counts.notice,
    }),
    { certificates: 0, expiring: 0, expired: 0, error: 0, warning: 0, notice: 0 },
  );
  const upcoming = (soon.data?.items ?? []).filter((i) => Date.parse(i.notAfter) > Date.now() - 30 * 86_400_000).slice(0, 10);
  return (
    <>
      <h2>Overview</h2>
      <ErrorLine error={clusters.error} />
      <Loading loading={clusters.loading && !clusters.data} />
      {clusters.data && (
        <section className="cards" aria-label="Totals">
          <div className="card">
            <div className="big">{clusters.data.items.length}</div>clusters
          </div>
          <div className="card">
            <div className="big">{totals.certificates}</div>certificates
          </div>
          <div className="card">
            <div className="big">{totals.expiring}</div>expiring · <strong>{totals.expired}</strong> expired
          </div>
          <a className="card" href={href('/findings')}>
            <div className="big">{totals.error + totals.warning + totals.notice}</div>
            open findings: <span className="badge sev-error">{totals.error} error</span>{' '}
            <span className="badge sev-warning">{totals.warning} warning</span>{' '}
            <span className="badge sev-notice">{totals.notice} notice</span>
          </a>
        </section>
      )}
      <div className="grid2">
        <div>
          {clusters.data?.items.map((c) => (
            <ClusterCard key={c.name} c={c} />
          ))}
        </div>
        <section aria-labelledby="soonest">
          <h3 id="soonest">Soonest expiries</h3>
          <ErrorLine error={soon.error} />
          <table className="plain">
            <thead>
              <tr>
                <th scope="col">certificate</th>
                <th scope="col">cluster</th>
                <th scope="col">expires</th>
                <th scope="col">health</th>
              </tr>
            </thead>
            <tbody>
              <ExpiryRows items={upcoming} />
            </tbody>
          </table>
          <p>
            <a href={href('/timeline')}>The whole timeline →</a>
          </p>
        </section>
      </div>
    </>
  );
}
