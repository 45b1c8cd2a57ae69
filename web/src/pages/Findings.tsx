// Findings: filter by cluster, severity, id and state; a writer acknowledges one (a reason and an end date at
// most 90 days ahead) or removes the acknowledgement.
import { useRef, useState } from 'react';
import { ClusterFilter, ErrorLine, type Finding, Loading, setQuery, useLoad, useSession } from '../lib.tsx';
import { FindingCard } from './CertificateDetail.tsx';

function AckDialog({ f, onDone }: { f: Finding; onDone: () => void }) {
  const { api } = useSession();
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [until, setUntil] = useState(() => new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10));
  const [error, setError] = useState<string>();
  const max = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
  return (
    <>
      <button type="button" onClick={() => ref.current?.showModal()}>
        Acknowledge…
      </button>
      <dialog ref={ref} aria-labelledby={`ack-${f.key}`}>
        <form
          method="dialog"
          onSubmit={async (e) => {
            e.preventDefault();
            try {
              await api.ack(f.key, reason, new Date(`${until}T23:59:59Z`).toISOString());
              ref.current?.close();
              onDone();
            } catch (err) {
              setError((err as Error).message);
            }
          }}
        >
          <h3 id={`ack-${f.key}`}>Acknowledge {f.id}</h3>
          <label>
            Reason
            <input required value={reason} onChange={(e) => setReason(e.target.value)} />
          </label>
          <label>
            Until (at most 90 days ahead)
            <input type="date" required value={until} max={max} onChange={(e) => setUntil(e.target.value)} />
          </label>
          <ErrorLine error={error} />
          <div className="row">
            <button type="submit" className="primary">
              Acknowledge
            </button>
            <button type="button" onClick={() => ref.current?.close()}>
              Cancel
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

export function FindingsPage({ query }: { query: URLSearchParams }) {
  const { api, writes } = useSession();
  const cluster = query.get('cluster') ?? undefined;
  const severity = query.get('severity') ?? undefined;
  const id = query.get('id') ?? undefined;
  const state = query.get('state') ?? '';
  const list = useLoad(() => api.findings({ cluster, severity, id, state, limit: 1000 }), [cluster, severity, id, state], ['finding']);
  const [error, setError] = useState<string>();
  return (
    <>
      <h2>Findings</h2>
      <div className="filters">
        <ClusterFilter value={cluster} />
        <label>
          Severity
          <select value={severity ?? ''} onChange={(e) => setQuery({ severity: e.target.value })}>
            <option value="">any</option>
            <option>error</option>
            <option>warning</option>
            <option>notice</option>
          </select>
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setQuery({ state: e.target.value })}>
            <option value="">not resolved</option>
            <option value="open">open (not acknowledged)</option>
            <option>acknowledged</option>
            <option>resolved</option>
          </select>
        </label>
        <label>
          Finding id
          <input defaultValue={id ?? ''} onBlur={(e) => setQuery({ id: e.target.value })} size={24} />
        </label>
      </div>
      {!writes && <p className="muted">Read-only: turn on writes (top right) to acknowledge findings.</p>}
      <ErrorLine error={list.error ?? error} />
      <Loading loading={list.loading && !list.data} />
      <p className="muted" aria-live="polite">
        {list.data ? `${list.data.total} findings` : ''}
      </p>
      {list.data?.items.map((f) => (
        <FindingCard
          key={f.key}
          f={f}
          actions={
            writes &&
            !f.resolvedAt &&
            (f.ack ? (
              <button
                type="button"
                onClick={() =>
                  api.unack(f.key).then(
                    () => list.reload(),
                    (e: Error) => setError(e.message),
                  )
                }
              >
                Remove acknowledgement
              </button>
            ) : (
              <AckDialog f={f} onDone={list.reload} />
            ))
          }
        />
      ))}
    </>
  );
}
