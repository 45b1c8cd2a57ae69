// SARIF 2.1.0 for `anchorage scan -o sarif`: one rule per id that occurs (lint catalog or scan.*), one result
// per finding with every place: files as physical locations, Kubernetes objects and TLS endpoints as logical
// ones (`namespace/Kind/name[key]`, `tls://host:port[chain 0]`).
import { LINTS_BY_ID } from '../lint/catalog.ts';
import type { Severity } from '../lint/types.ts';
import { SCAN_FINDINGS, type ScanReport } from './scan.ts';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', notice: 'note' };

function toUri(path: string): string {
  const p = path.replaceAll('\\', '/');
  const enc = p
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
  return p.startsWith('/') ? `file://${enc}` : enc;
}

/** A location string (`path [position]`, `ns/Kind/name[key]`, `tls://host:port[chain 0]`) as a SARIF location. */
function location(l: string): Record<string, unknown> {
  const m = /^(.*?) \[(.+)\]$/.exec(l);
  const source = m ? (m[1] as string) : l;
  const at = m?.[2];
  if (/^tls:\/\//.test(source) || /^[^/]*\/[A-Z]\w*\/[^/]+\[.*\]$/.test(source) || /^[A-Z]\w*\/[^/]+\[.*\]$/.test(source))
    return { logicalLocations: [{ fullyQualifiedName: source, kind: 'resource' }] };
  const loc: Record<string, unknown> = { physicalLocation: { artifactLocation: { uri: toUri(source) } } };
  if (at !== undefined) loc.logicalLocations = [{ name: at, kind: 'element' }];
  return loc;
}

export function scanToSarif(r: ScanReport, version = '0.1.0'): Record<string, unknown> {
  const ids = [...new Set(r.findings.map((f) => f.id))].sort();
  const rules = ids.map((id) => {
    const s = (SCAN_FINDINGS as Record<string, { severity: Severity; description: string; remediation: string }>)[id];
    const l = LINTS_BY_ID.get(id);
    const description = s?.description ?? l?.description ?? id;
    const remediation = s?.remediation ?? l?.remediation ?? '';
    const severity = s?.severity ?? l?.severity ?? 'warning';
    return {
      id,
      shortDescription: { text: description },
      help: { text: remediation },
      defaultConfiguration: { level: LEVEL[severity] },
      properties: { tags: ['pki', id.split('.')[0]] },
    };
  });
  const index = new Map(ids.map((id, i) => [id, i]));
  const results = r.findings.map((f) => ({
    ruleId: f.id,
    ruleIndex: index.get(f.id),
    level: LEVEL[f.severity],
    message: { text: `${f.why}${f.subject !== undefined ? ` (certificate ${f.subject || '(empty subject)'})` : ''}. Fix: ${f.fix}` },
    locations: f.locations.slice(0, 1).map(location),
    ...(f.locations.length > 1 && { relatedLocations: f.locations.slice(1).map((l, i) => ({ id: i + 1, ...location(l) })) }),
    partialFingerprints: { 'findingKey/v1': `${f.id}:${f.sha256 ?? ''}:${f.locations[0] ?? ''}` },
    properties: { severity: f.severity, ...(f.sha256 !== undefined && { sha256: f.sha256 }) },
  }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'anchorage', version, rules } },
        results,
        properties: { schema: r.schema, summary: r.summary, at: r.at },
      },
    ],
  };
}
