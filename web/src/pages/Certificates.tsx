// The certificate table: the server filters, sorts and searches (docs/api.md); the page keeps the rows it has
// loaded, asks for the next page as the visible window approaches its end, and draws only the visible rows
// (@tanstack/react-virtual), so 100k certificates scroll without jank.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  type CertificateSummary,
  certHref,
  cn,
  ErrorLine,
  HealthBadge,
  type Query,
  relDays,
  SeverityBadge,
  setQuery,
  useLive,
  useLoad,
  useSession,
} from '../lib.tsx';

const PAGE = 500;
const ROW = 32;

interface Rows {
  items: CertificateSummary[];
  total: number;
  cont: string | undefined;
  error: string | undefined;
  /** Bumped on every new query, so late answers of an old one are dropped. */
  generation: number;
}

function useCertificateRows(q: Query) {
  const { api } = useSession();
  const [rows, setRows] = useState<Rows>({ items: [], total: 0, cont: undefined, error: undefined, generation: 0 });
  const gen = useRef(0);
  const busy = useRef(false);
  const state = useRef(rows);
  state.current = rows;
  const key = JSON.stringify(q);

  const first = useCallback(() => {
    const g = ++gen.current;
    busy.current = true;
    api.certificates({ ...(JSON.parse(key) as Query), limit: PAGE }).then(
      (page) => {
        if (g !== gen.current) return;
        busy.current = false;
        setRows({ items: page.items, total: page.total, cont: page.continue, error: undefined, generation: g });
      },
      (e: Error) => {
        if (g !== gen.current) return;
        busy.current = false;
        setRows({ items: [], total: 0, cont: undefined, error: e.message, generation: g });
      },
    );
  }, [api, key]);

  useEffect(first, [first]);
  useLive(['certificate'], first, 1000);

  /** Load pages until row `index` is loaded (one request at a time). */
  const ensure = useCallback(
    (index: number) => {
      const r = state.current;
      if (busy.current || index < r.items.length || !r.cont) return;
      const g = gen.current;
      busy.current = true;
      api.certificates({ ...(JSON.parse(key) as Query), limit: PAGE, continue: r.cont }).then(
        (page) => {
          if (g !== gen.current) return;
          busy.current = false;
          setRows((prev) => ({ ...prev, items: prev.items.concat(page.items), total: page.total, cont: page.continue }));
        },
        (e: Error) => {
          if (g !== gen.current) return;
          busy.current = false;
          setRows((prev) => ({ ...prev, error: e.message }));
        },
      );
    },
    [api, key],
  );
  return { rows, ensure };
}

const SORTS = {
  subject: ['subject', '-subject'],
  notAfter: ['notAfter', '-notAfter'],
} as const;

export function CertificatesPage({ query }: { query: URLSearchParams }) {
  const { api } = useSession();
  const clusters = useLoad(() => api.clusters(), []);
  const [text, setText] = useState(query.get('q') ?? '');
  const q: Query = {
    q: query.get('q') ?? undefined,
    cluster: query.get('cluster') ?? undefined,
    health: query.get('health') ?? undefined,
    severity: query.get('severity') ?? undefined,
    role: query.get('role') ?? undefined,
    ca: query.get('ca') ?? undefined,
    sort: query.get('sort') ?? 'notAfter',
  };
  // Typing updates the search after a short pause (one request per pause, not per key).
  useEffect(() => {
    const current = new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('q') ?? '';
    if (text === current) return;
    const t = setTimeout(() => setQuery({ q: text }), 150);
    return () => clearTimeout(t);
  }, [text]);

  const { rows, ensure } = useCertificateRows(q);
  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({ count: rows.total, getScrollElement: () => parent.current, estimateSize: () => ROW, overscan: 20 });
  const visible = virtual.getVirtualItems();
  const last = visible.at(-1)?.index ?? 0;
  useEffect(() => {
    if (last >= rows.items.length - 50) ensure(Math.min(last + 50, rows.total - 1));
  }, [last, rows.items.length, rows.total, ensure]);
  // A new query starts at the top.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the generation marks a new query
  useEffect(() => {
    parent.current?.scrollTo({ top: 0 });
  }, [rows.generation]);

  const sortButton = (col: keyof typeof SORTS, label: string) => {
    const [asc, desc] = SORTS[col];
    const cur = q.sort;
    const next = cur === asc ? desc : asc;
    const aria = cur === asc ? 'ascending' : cur === desc ? 'descending' : 'none';
    const said = aria === 'none' ? '' : `, sorted ${aria}`;
    return (
      <span data-sort={aria}>
        <button type="button" onClick={() => setQuery({ sort: next })} title={`Sort by ${label}`} aria-label={`${label}${said}: sort`}>
          {label} {cur === asc ? '▲' : cur === desc ? '▼' : ''}
        </button>
      </span>
    );
  };
  const select = (name: string, label: string, options: string[]) => (
    <label>
      {label}
      <select value={query.get(name) ?? ''} onChange={(e) => setQuery({ [name]: e.target.value })} name={name}>
        <option value="">any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <>
      <h2>Certificates</h2>
      <search className="filters">
        <label>
          Search subject, issuer, SAN, serial or SHA-256
          <input
            type="search"
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="e.g. apiserver, DNS:kubernetes, 3f2a…"
            data-testid="cert-search"
          />
        </label>
        {select(
          'cluster',
          'Cluster',
          (clusters.data?.items ?? []).map((c) => c.name),
        )}
        {select('health', 'Health', ['ok', 'expiring', 'expired', 'untrusted', 'error'])}
        {select('severity', 'Findings', ['error', 'warning', 'notice'])}
        {select('ca', 'CA', ['true', 'false'])}
        <label>
          Role
          <input
            defaultValue={query.get('role') ?? ''}
            onKeyDown={(e) => {
              if (e.key === 'Enter') setQuery({ role: (e.target as HTMLInputElement).value });
            }}
            onBlur={(e) => setQuery({ role: e.target.value })}
            placeholder="apiserver"
            size={14}
          />
        </label>
      </search>
      <p className="muted" aria-live="polite" data-testid="cert-total">
        {rows.total} certificate{rows.total === 1 ? '' : 's'}
      </p>
      <ErrorLine error={rows.error} />
      <section className="vtable" aria-label="Certificates">
        <div className="vrow vhead">
          {sortButton('subject', 'Subject')}
          <span>Issuer</span>
          <span>Role</span>
          {sortButton('notAfter', 'Expires')}
          <span>Health</span>
          <span>Findings</span>
          <span>Cluster</span>
          <span>SANs</span>
        </div>
        <div className="vbody" ref={parent} data-testid="cert-rows">
          <div style={{ height: virtual.getTotalSize(), position: 'relative' }}>
            {visible.map((v) => {
              const c = rows.items[v.index];
              if (!c)
                return (
                  <div key={v.key} className="vrow muted" style={{ position: 'absolute', left: 0, right: 0, top: v.start }}>
                    loading…
                  </div>
                );
              return (
                <a
                  key={v.key}
                  className="vrow"
                  aria-label={`${cn(c.subject)}, issued by ${cn(c.issuer)}, expires ${relDays(c.notAfter)}, ${c.health}, ${c.findings} findings, row ${v.index + 1} of ${rows.total}`}
                  href={certHref(c.sha256, c.cluster)}
                  style={{ top: v.start }}
                  data-sha256={c.sha256}
                >
                  <span title={c.subject}>
                    {cn(c.subject)}
                    {c.isCA ? ' (CA)' : ''}
                  </span>
                  <span title={c.issuer}>{cn(c.issuer)}</span>
                  <span>{c.role ?? '—'}</span>
                  <span title={c.notAfter}>{relDays(c.notAfter)}</span>
                  <span>
                    <HealthBadge health={c.health} />
                  </span>
                  <span>
                    {c.findings ? `${c.findings} ` : ''}
                    <SeverityBadge severity={c.worstSeverity} />
                  </span>
                  <span>{c.cluster}</span>
                  <span className="mono" title={c.sans.join(', ')}>
                    {c.sans.join(', ')}
                  </span>
                </a>
              );
            })}
          </div>
        </div>
      </section>
    </>
  );
}
