// The dashboard's frame: navigation, the live indicator, the writer switch and token, dark/light, and the page
// the URL hash names.
import { useEffect, useState } from 'react';
import { href, useRoute, useSession } from './lib.tsx';
import { CertificateDetailPage } from './pages/CertificateDetail.tsx';
import { CertificatesPage } from './pages/Certificates.tsx';
import { FindingsPage } from './pages/Findings.tsx';
import { GraphPage } from './pages/Graph.tsx';
import { NodesPage } from './pages/Nodes.tsx';
import { OperationsPage } from './pages/Operations.tsx';
import { OverviewPage } from './pages/Overview.tsx';
import { TimelinePage } from './pages/Timeline.tsx';

const PAGES = [
  { path: '', label: 'Overview' },
  { path: 'certificates', label: 'Certificates' },
  { path: 'graph', label: 'Trust graph' },
  { path: 'timeline', label: 'Expiry timeline' },
  { path: 'nodes', label: 'Nodes × files' },
  { path: 'findings', label: 'Findings' },
  { path: 'operations', label: 'Operations' },
] as const;

type Theme = 'light' | 'dark';

function initialTheme(): Theme {
  const saved = localStorage.getItem('anchorage.theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function Settings() {
  const { writes, setWrites, setToken, api } = useSession();
  const [open, setOpen] = useState(false);
  const [token, setTokenText] = useState(api.token ?? '');
  return (
    <div className="settings">
      <label className="switch">
        <input type="checkbox" checked={writes} onChange={(e) => setWrites(e.target.checked)} data-testid="writes" />
        {writes ? 'Writes on' : 'Read-only'}
      </label>
      <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
        Token
      </button>
      {open && (
        <form
          className="token-form"
          onSubmit={(e) => {
            e.preventDefault();
            setToken(token.trim());
            setOpen(false);
          }}
        >
          <label>
            Bearer token (kept for this tab only)
            <input type="password" value={token} onChange={(e) => setTokenText(e.target.value)} autoComplete="off" />
          </label>
          <button type="submit">Save</button>
        </form>
      )}
    </div>
  );
}

export function App() {
  const { path, query } = useRoute();
  const { live } = useSession();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const top = path[0] ?? '';
  const page = PAGES.find((p) => p.path === top);
  useEffect(() => {
    document.title = `${page?.label ?? 'Not found'} · Anchorage`;
  }, [page]);

  let content: React.ReactNode;
  if (top === '') content = <OverviewPage />;
  else if (top === 'certificates' && path[1])
    content = <CertificateDetailPage sha256={path[1]} cluster={query.get('cluster') ?? undefined} />;
  else if (top === 'certificates') content = <CertificatesPage query={query} />;
  else if (top === 'graph') content = <GraphPage query={query} />;
  else if (top === 'timeline') content = <TimelinePage query={query} />;
  else if (top === 'nodes') content = <NodesPage query={query} />;
  else if (top === 'findings') content = <FindingsPage query={query} />;
  else if (top === 'operations') content = <OperationsPage query={query} />;
  else content = <p>No page at {window.location.hash}.</p>;

  return (
    <div className="app">
      <button type="button" className="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header className="top">
        <h1 className="brand">
          <a href="#/">Anchorage</a>
        </h1>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={href(`/${p.path}`)} aria-current={p.path === top ? 'page' : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="tools">
          <span className={`live live-${live}`} role="status" data-testid="live" title="Live updates over server-sent events">
            {live === 'open' ? '● live' : live === 'connecting' ? '○ connecting' : '○ offline'}
          </span>
          <Settings />
          <button
            type="button"
            onClick={() => {
              const t = theme === 'dark' ? 'light' : 'dark';
              localStorage.setItem('anchorage.theme', t);
              setTheme(t);
            }}
            aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
          >
            {theme === 'dark' ? '☀ Light' : '☾ Dark'}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {content}
      </main>
    </div>
  );
}
