// One certificate: every field (the inspect schema, docs/inspect-schema.md), its chain, every place it was seen,
// where its key was seen, who trusts it, its findings with the fix, and the PEM to download.
import { type ReactNode, useState } from 'react';
import {
  type CertificateDetail,
  certHref,
  cn,
  date,
  ErrorLine,
  type Finding,
  HealthBadge,
  href,
  Loading,
  type Location,
  relDays,
  SeverityBadge,
  shortSha,
  useLoad,
  useSession,
} from '../lib.tsx';

/** A JSON value as nested definition lists (objects) and lists (arrays). */
function Value({ v }: { v: unknown }): ReactNode {
  if (v === null || v === undefined) return <span className="muted">—</span>;
  if (Array.isArray(v)) {
    if (v.length === 0) return <span className="muted">none</span>;
    if (v.every((x) => typeof x !== 'object' || x === null)) return <span className="mono">{v.map(String).join(', ')}</span>;
    return (
      <ol className="tree">
        {v.map((x, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list of values
          <li key={i}>
            <Value v={x} />
          </li>
        ))}
      </ol>
    );
  }
  if (typeof v === 'object') {
    return (
      <dl className="fields">
        {Object.entries(v as Record<string, unknown>).map(([k, x]) => (
          <Field key={k} name={k} value={x} />
        ))}
      </dl>
    );
  }
  return <span className="mono">{String(v)}</span>;
}

function Field({ name, value }: { name: string; value: unknown }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>
        <Value v={value} />
      </dd>
    </>
  );
}

function Locations({ items, empty }: { items: Location[]; empty: string }) {
  if (!items.length) return <p className="muted">{empty}</p>;
  return (
    <table className="plain">
      <thead>
        <tr>
          <th scope="col">kind</th>
          <th scope="col">where</th>
          <th scope="col">node</th>
          <th scope="col">namespace</th>
        </tr>
      </thead>
      <tbody>
        {items.map((l) => (
          <tr key={`${l.kind}:${l.where}:${l.node ?? ''}`}>
            <td>{l.kind}</td>
            <td className="mono">{l.where}</td>
            <td>{l.node ?? '—'}</td>
            <td>{l.namespace ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function FindingCard({ f, actions }: { f: Finding; actions?: ReactNode }) {
  return (
    <article className={`finding sev-${f.severity}`} data-finding={f.id} data-key={f.key}>
      <div className="row">
        <SeverityBadge severity={f.severity} /> <strong className="mono">{f.id}</strong>
        {f.subject && (f.sha256 ? <a href={certHref(f.sha256, f.cluster)}>{cn(f.subject)}</a> : <span>{cn(f.subject)}</span>)}
        <span className="muted">{f.cluster}</span>
        {f.ack && (
          <span className="badge health-expiring" title={`${f.ack.reason} (by ${f.ack.by}, until ${f.ack.until})`}>
            acknowledged until {f.ack.until.slice(0, 10)}
          </span>
        )}
        {f.resolvedAt && <span className="badge health-ok">resolved {date(f.resolvedAt)}</span>}
        <span style={{ marginLeft: 'auto' }}>{actions}</span>
      </div>
      <p style={{ margin: '4px 0 0' }}>{f.why}</p>
      <p className="fix">
        <strong>Fix:</strong> {f.fix}
      </p>
      {f.locations.length > 0 && <p className="muted mono">{f.locations.join(' · ')}</p>}
      {f.ack && (
        <p className="muted">
          Acknowledged by {f.ack.by}: {f.ack.reason}
        </p>
      )}
    </article>
  );
}

function Summary({ c }: { c: CertificateDetail }) {
  return (
    <dl className="fields">
      <Field name="subject" value={c.subject} />
      <Field name="issuer" value={c.issuer} />
      <Field name="serial" value={c.serial} />
      <Field name="SHA-256" value={c.sha256} />
      <dt>valid</dt>
      <dd>
        {date(c.notBefore)} → {date(c.notAfter)} ({relDays(c.notAfter)}) <HealthBadge health={c.health} />
      </dd>
      <Field name="SANs" value={c.sans} />
      <Field name="key" value={c.keyType} />
      <Field name="role" value={c.role} />
      <Field name="CA" value={c.isCA ? (c.selfSigned ? 'yes, self-signed' : 'yes') : 'no'} />
      <Field name="cluster" value={c.cluster} />
    </dl>
  );
}

export function CertificateDetailPage({ sha256, cluster }: { sha256: string; cluster: string | undefined }) {
  const { api } = useSession();
  const cert = useLoad(() => api.certificate(sha256, cluster), [sha256, cluster], ['certificate', 'finding']);
  const [pemError, setPemError] = useState<string>();
  const c = cert.data;

  const download = async () => {
    try {
      const pem = await api.pem(sha256);
      const url = URL.createObjectURL(new Blob([pem], { type: 'application/x-pem-file' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `${c ? cn(c.subject).replace(/[^\w.-]+/g, '_') : sha256.slice(0, 16)}.pem`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      setPemError(undefined);
    } catch (e) {
      setPemError((e as Error).message);
    }
  };

  return (
    <>
      <p>
        <a href={href('/certificates')}>← Certificates</a>
      </p>
      <ErrorLine error={cert.error} />
      <Loading loading={cert.loading && !c} />
      {c && (
        <>
          <h2>
            {cn(c.subject)} <HealthBadge health={c.health} />
          </h2>
          <div className="row" style={{ marginBottom: 12 }}>
            <button type="button" onClick={download} data-testid="pem-download">
              Download PEM
            </button>
            {c.role && <a href={href('/operations', { kind: 'pki.renew', certs: c.role, cluster: c.cluster })}>Renew this certificate…</a>}
            <a href={href('/graph', { cluster: c.cluster, focus: c.sha256 })}>Show in the trust graph</a>
          </div>
          <ErrorLine error={pemError} />
          <div className="grid2">
            <section aria-labelledby="sum">
              <h3 id="sum">Summary</h3>
              <Summary c={c} />
              <h3>Chain</h3>
              {c.chain.length ? (
                <ol>
                  {c.chain.map((s) => (
                    <li key={s}>
                      {s === c.sha256 ? (
                        <span>this certificate</span>
                      ) : (
                        <a href={certHref(s, c.cluster)} className="mono">
                          {shortSha(s)}
                        </a>
                      )}
                    </li>
                  ))}
                </ol>
              ) : (
                <p className="error">No verified chain to a trust anchor.</p>
              )}
              {c.issuedBy.length > 0 && (
                <p>
                  Signed by:{' '}
                  {c.issuedBy.map((s) => (
                    <a key={s} href={certHref(s, c.cluster)} className="mono" style={{ marginRight: 8 }}>
                      {shortSha(s)}
                    </a>
                  ))}
                </p>
              )}
            </section>
            <section aria-labelledby="trusted">
              <h3 id="trusted">Who trusts it</h3>
              {c.trustedBy.length ? (
                <table className="plain">
                  <thead>
                    <tr>
                      <th scope="col">consumer</th>
                      <th scope="col">kind</th>
                      <th scope="col">verdict</th>
                      <th scope="col">why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.trustedBy.map((t) => (
                      <tr key={`${t.kind}:${t.consumer}`}>
                        <td className="mono">{t.consumer}</td>
                        <td>{t.kind}</td>
                        <td>
                          <span className={`badge ${t.verdict === 'ok' ? 'health-ok' : 'health-error'}`}>{t.verdict}</span>
                        </td>
                        <td>{t.why}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <p className="muted">No consumer seen trusting or using it.</p>
              )}
              <h3>Findings ({c.findings.length})</h3>
              {c.findings.length ? c.findings.map((f) => <FindingCard key={f.key} f={f} />) : <p className="muted">None.</p>}
            </section>
          </div>
          <h3>Seen at ({c.locations.length})</h3>
          <Locations items={c.locations} empty="No location recorded." />
          <h3>Its private key was seen at ({c.keyLocations.length})</h3>
          <Locations items={c.keyLocations} empty="Its private key was not seen." />
          <details>
            <summary>
              <h3 style={{ display: 'inline' }}>Every field</h3>
            </summary>
            <Value v={c.fields} />
          </details>
          <details>
            <summary>PEM</summary>
            <pre className="log mono">{c.pem}</pre>
          </details>
        </>
      )}
    </>
  );
}
