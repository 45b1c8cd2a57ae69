// Expiry timeline: how many certificates run out in each 30-day window (already expired first), stacked by
// health, as an SVG bar chart; choosing a bar lists its certificates (the same data as a table, for screen readers).
import { useState } from 'react';
import { ClusterFilter, ErrorLine, ExpiryRows, type Health, Loading, setQuery, type TimelineItem, useLoad, useSession } from '../lib.tsx';

const DAY = 86_400_000;
const HEALTHS: Health[] = ['error', 'untrusted', 'expired', 'expiring', 'ok'];

interface Bucket {
  label: string;
  items: TimelineItem[];
}

function buckets(items: TimelineItem[], months: number): Bucket[] {
  const now = Date.now();
  const out: Bucket[] = [{ label: 'expired', items: [] }];
  for (let i = 0; i < months; i++) out.push({ label: `${i * 30}–${(i + 1) * 30} d`, items: [] });
  out.push({ label: 'later', items: [] });
  for (const it of items) {
    const d = (Date.parse(it.notAfter) - now) / DAY;
    const b = d < 0 ? out[0] : d >= months * 30 ? out[out.length - 1] : out[1 + Math.floor(d / 30)];
    b?.items.push(it);
  }
  return out;
}

export function TimelinePage({ query }: { query: URLSearchParams }) {
  const { api } = useSession();
  const cluster = query.get('cluster') ?? undefined;
  const months = Number(query.get('months') ?? 13) || 13;
  const tl = useLoad(() => api.timeline({ cluster }), [cluster], ['certificate']);
  const [chosen, setChosen] = useState(0);
  const bs = buckets(tl.data?.items ?? [], months);
  const max = Math.max(1, ...bs.map((b) => b.items.length));
  const W = 56;
  const H = 220;
  const width = bs.length * W + 50;
  return (
    <>
      <h2>Expiry timeline</h2>
      <div className="filters">
        <ClusterFilter value={cluster} />
        <label>
          Windows of 30 days
          <select value={String(months)} onChange={(e) => setQuery({ months: e.target.value })}>
            {[4, 7, 13, 25, 61, 121].map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorLine error={tl.error} />
      <Loading loading={tl.loading && !tl.data} />
      <div style={{ overflowX: 'auto' }}>
        <svg
          className="chart"
          width={width}
          height={H + 70}
          role="img"
          aria-label="Certificates expiring per 30-day window"
          data-testid="timeline-chart"
        >
          <line className="axis" x1={40} y1={H + 10} x2={width} y2={H + 10} />
          <text x={0} y={14}>
            {max}
          </text>
          <text x={0} y={H + 10}>
            0
          </text>
          {bs.map((b, i) => {
            let y = H + 10;
            const x = 44 + i * W;
            return (
              // biome-ignore lint/a11y/useSemanticElements: an SVG bar cannot be a <button>
              <g
                key={b.label}
                onClick={() => setChosen(i)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' || e.key === ' ') {
                    e.preventDefault();
                    setChosen(i);
                  }
                }}
                tabIndex={0}
                role="button"
                aria-label={`${b.label}: ${b.items.length} certificates`}
                aria-pressed={chosen === i}
                style={{ cursor: 'pointer' }}
              >
                <rect x={x - 2} y={10} width={W - 8} height={H} fill="transparent" stroke={chosen === i ? 'var(--focus)' : 'none'} />
                {HEALTHS.map((h) => {
                  const n = b.items.filter((it) => it.health === h).length;
                  if (!n) return null;
                  const hgt = (n / max) * (H - 10);
                  y -= hgt;
                  return (
                    <rect key={h} className={`bar-${h}`} x={x} y={y} width={W - 12} height={hgt}>
                      <title>
                        {b.label}: {n} {h}
                      </title>
                    </rect>
                  );
                })}
                <text x={x + (W - 12) / 2} y={y - 4} textAnchor="middle">
                  {b.items.length || ''}
                </text>
                <text x={x} y={H + 26} transform={`rotate(35 ${x} ${H + 26})`}>
                  {b.label}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      <h3>
        {bs[chosen]?.label}: {bs[chosen]?.items.length ?? 0} certificates
      </h3>
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
          <ExpiryRows items={(bs[chosen]?.items ?? []).slice(0, 500)} />
        </tbody>
      </table>
    </>
  );
}
