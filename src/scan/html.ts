// `anchorage scan -o html`: one self-contained page (no script, no network): the summary, the findings
// grouped by severity, the trust graph drawn as inline SVG (each certificate a box, roots on top, an arrow
// from issuer to issued, boxes coloured by their worst finding), the relations, endpoints and skipped sources.
import { SEVERITY_RANK, type Severity } from '../lint/types.ts';
import type { ScanReport } from './scan.ts';

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** Most certificates drawn; past it the graph says so and the tables still list everything. */
export const MAX_GRAPH_NODES = 400;

const COLOUR: Record<Severity | 'none', string> = { error: '#f8d0d0', warning: '#fbe8c0', notice: '#e4ecf7', none: '#e6f4e6' };
const BOX_W = 190;
const BOX_H = 44;
const GAP_X = 24;
const GAP_Y = 60;

function graph(r: ScanReport): string {
  const certs = r.certificates;
  if (!certs.length) return '<p>No certificates.</p>';
  if (certs.length > MAX_GRAPH_NODES)
    return `<p>The trust graph is not drawn: ${certs.length} certificates (at most ${MAX_GRAPH_NODES}). The tables below list every finding.</p>`;
  const worst = new Map<string, Severity>();
  for (const f of r.findings)
    if (f.sha256 && (!worst.has(f.sha256) || SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst.get(f.sha256) as Severity]))
      worst.set(f.sha256, f.severity);
  const by = new Map(certs.map((c) => [c.sha256, c]));
  const depth = new Map<string, number>();
  const depthOf = (sha: string, seen: Set<string>): number => {
    const known = depth.get(sha);
    if (known !== undefined) return known;
    const c = by.get(sha);
    const parents = (c?.issuedBy ?? []).filter((p) => by.has(p) && !seen.has(p));
    seen.add(sha);
    const d = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(p, seen))) : 0;
    depth.set(sha, d);
    return d;
  };
  for (const c of certs) depthOf(c.sha256, new Set());
  const rows: string[][] = [];
  for (const c of [...certs].sort((a, b) => a.subject.localeCompare(b.subject))) {
    const d = depth.get(c.sha256) ?? 0;
    const row = rows[d] ?? [];
    row.push(c.sha256);
    rows[d] = row;
  }
  const pos = new Map<string, { x: number; y: number }>();
  for (let d = 0; d < rows.length; d++) rows[d] ??= [];
  const widest = Math.max(...rows.map((row) => row.length));
  rows.forEach((row, d) => {
    row.forEach((sha, i) => {
      pos.set(sha, { x: 10 + i * (BOX_W + GAP_X), y: 10 + d * (BOX_H + GAP_Y) });
    });
  });
  const width = 20 + widest * (BOX_W + GAP_X);
  const height = 20 + rows.length * (BOX_H + GAP_Y);
  const parts: string[] = [];
  for (const c of certs)
    for (const p of c.issuedBy) {
      const a = pos.get(p);
      const b = pos.get(c.sha256);
      if (!a || !b) continue;
      parts.push(
        `<line x1="${a.x + BOX_W / 2}" y1="${a.y + BOX_H}" x2="${b.x + BOX_W / 2}" y2="${b.y}" stroke="#555" marker-end="url(#arrow)"/>`,
      );
    }
  for (const c of certs) {
    const p = pos.get(c.sha256) as { x: number; y: number };
    const sev = worst.get(c.sha256) ?? 'none';
    const label = c.subject.length > 30 ? `${c.subject.slice(0, 29)}…` : c.subject;
    parts.push(
      `<g><title>${esc(
        `${c.subject}\nissuer: ${c.issuer}\nrole: ${c.role ?? '-'}\nnot after: ${c.notAfter}\nsha256: ${c.sha256}\n${c.locations
          .slice(0, 5)
          .map((l) => l.source)
          .join('\n')}`,
      )}</title><rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="6" fill="${COLOUR[sev]}" stroke="${c.isCA ? '#224' : '#888'}" stroke-width="${c.isCA ? 2 : 1}"/>` +
        `<text x="${p.x + 6}" y="${p.y + 18}" font-size="11">${esc(label || '(empty subject)')}</text>` +
        `<text x="${p.x + 6}" y="${p.y + 34}" font-size="10" fill="#444">${esc(`${c.isCA ? 'CA' : (c.role ?? 'leaf')} · ${c.sha256.slice(0, 8)}`)}</text></g>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" role="img" aria-label="trust graph"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>${parts.join('')}</svg>`;
}

function table(headers: string[], rows: string[][]): string {
  if (!rows.length) return '<p>None.</p>';
  return `<table><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

export function scanToHtml(r: ScanReport): string {
  const s = r.summary;
  const findings = r.findings.map((f) => [f.severity, f.id, f.subject ?? '', f.why, f.fix, f.locations.join('\n')]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>anchorage scan</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:13px;white-space:pre-wrap}th{background:#eee}.graph{overflow:auto;border:1px solid #ddd}</style>
</head><body>
<h1>anchorage scan</h1>
<p>Judged at ${esc(r.at)} (report ${esc(r.generatedAt)}, schema ${esc(r.schema)}): ${s.certificates} certificates, ${s.keys} private keys in ${s.sources} sources; <b>${s.error} errors</b>, ${s.warning} warnings, ${s.notice} notices; ${s.unreadable} sources skipped.</p>
<h2>Findings</h2>
${table(['severity', 'id', 'certificate', 'why', 'fix', 'where'], findings)}
<h2>Trust graph</h2>
<p>Each box is a certificate (thick border: a CA); an arrow goes from the issuer to the certificate it signed (checked by signature). Red: an error, amber: a warning, blue: a notice, green: nothing found.</p>
<div class="graph">${graph(r)}</div>
<h2>Who trusts whom</h2>
${table(
  ['consumer', 'server', 'basis', 'verdict', 'why'],
  r.relations.map((x) => [x.consumer, x.server, x.basis, x.verdict, x.why]),
)}
<h2>Endpoints</h2>
${table(
  ['endpoint', 'name', 'for', 'reached', 'verified', 'client certificate', 'chain'],
  r.endpoints.map((e) => [
    e.endpoint,
    e.name,
    e.for,
    e.reached ? (e.protocol ?? 'yes') : `no: ${e.error ?? ''}`,
    e.verified === undefined ? '-' : e.verified ? 'yes' : `no: ${e.verifyError ?? ''}`,
    e.clientCert ? (e.clientCert.accepted ? 'accepted' : `refused: ${e.clientCert.reason ?? ''}`) : '-',
    e.chain.map((c) => c.slice(0, 12)).join('\n'),
  ]),
)}
<h2>Skipped</h2>
${table(
  ['source', 'reason'],
  r.skipped.map((k) => [k.source, k.reason]),
)}
</body></html>
`;
}
