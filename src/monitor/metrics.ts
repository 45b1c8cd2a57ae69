// Prometheus text for /metrics. Certificates use the names and labels of the x509-certificate-exporter
// (enix/x509-certificate-exporter: pkg/registry/collector.go and labels.go), so its dashboards and alerts
// keep working: one series per place a certificate is seen, labelled by that place (filepath/filename,
// embedded_kind/embedded_key for kubeconfigs, secret_*, configmap_*, cabundle_*), the decimal serial_number
// and the issuer_/subject_ C, ST, L, O, OU, CN; plus `cluster`. Anchorage adds its findings, its sources and
// the store.
import type { Location } from '../inventory/inventory.ts';
import type { Certificate } from '../x509/certificate.ts';
import type { Rdns } from '../x509/name.ts';
import type { Monitor } from './monitor.ts';

const DN_FIELDS: [string, string][] = [
  ['C', '2.5.4.6'],
  ['ST', '2.5.4.8'],
  ['L', '2.5.4.7'],
  ['O', '2.5.4.10'],
  ['OU', '2.5.4.11'],
  ['CN', '2.5.4.3'],
];

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(l: Record<string, string>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(l)) if (v !== '') parts.push(`${k}="${esc(v)}"`);
  return `{${parts.join(',')}}`;
}

/** The DN fields as the exporter labels them: the first value of each attribute. */
function dn(rdns: Rdns, prefix: string, out: Record<string, string>): void {
  for (const [field, oid] of DN_FIELDS) {
    let v = '';
    for (const rdn of rdns) for (const a of rdn) if (a.type === oid && v === '') v = a.value;
    out[`${prefix}_${field}`] = v;
  }
}

function serialDecimal(c: Certificate): string {
  const hex = c.serialNumber;
  try {
    return BigInt(`0x${hex || '0'}`).toString(10);
  } catch {
    return hex;
  }
}

/** The exporter's location labels for one place. */
export function locationLabels(l: Location): Record<string, string> {
  const out: Record<string, string> = {};
  const s = /^([^/]*)\/(Secret|ConfigMap)\/([^[]+)\[(.*)\]$/.exec(l.source);
  if (s) {
    const kind = s[2] === 'Secret' ? 'secret' : 'configmap';
    out[`${kind}_namespace`] = s[1] as string;
    out[`${kind}_name`] = s[3] as string;
    out[`${kind}_key`] = s[4] as string;
    return out;
  }
  const b = /^(MutatingWebhookConfiguration|ValidatingWebhookConfiguration|APIService|CustomResourceDefinition)\/([^[]+)\[(.*)\]$/.exec(
    l.source,
  );
  if (b) {
    out.cabundle_resource_kind = b[1] as string;
    out.cabundle_resource_name = b[2] as string;
    const entry = (b[3] as string).replace(/\.?caBundle$/, '');
    out.cabundle_entry = entry === 'conversion' ? '' : entry;
    return out;
  }
  if (l.source.startsWith('tls://') || /^[A-Za-z]+\//.test(l.source) || /^[^/]+\/[A-Z][A-Za-z]+\//.test(l.source)) {
    out.source = l.source;
    return out;
  }
  out.filename = l.source.split('/').pop() ?? l.source;
  out.filepath = l.source;
  const k = l.at !== undefined ? /^(users|clusters)\[(.*)\]/.exec(l.at) : null;
  if (k) {
    out.embedded_kind = k[1] === 'users' ? 'user' : 'cluster';
    out.embedded_key = k[2] as string;
  }
  return out;
}

export interface ProcessStats {
  http: Map<string, number>;
}

/** Everything /metrics answers. */
export function renderMetrics(m: Monitor, now: Date = m.now()): string {
  const lines: string[] = [];
  const fam = (name: string, type: string, help: string): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const nowS = now.getTime() / 1000;
  const certSeries: { l: string; notAfter: number; notBefore: number }[] = [];
  for (const v of m.views()) {
    for (const c of v.report.certificates) {
      const cert = v.certs.get(c.sha256);
      if (!cert) continue;
      const base: Record<string, string> = { cluster: v.cluster, serial_number: serialDecimal(cert) };
      try {
        dn(cert.issuerRdns, 'issuer', base);
        dn(cert.subjectRdns, 'subject', base);
      } catch {
        // A name that does not decode: its labels stay empty.
      }
      const seen = new Set<string>();
      for (const loc of c.locations) {
        const l = labels({ ...locationLabels(loc), ...base });
        if (seen.has(l)) continue;
        seen.add(l);
        certSeries.push({ l, notAfter: cert.notAfter.getTime() / 1000, notBefore: cert.notBefore.getTime() / 1000 });
      }
    }
  }
  fam('x509_cert_not_after', 'gauge', "Unix timestamp of the certificate's NotAfter.");
  for (const s of certSeries) lines.push(`x509_cert_not_after${s.l} ${s.notAfter}`);
  fam('x509_cert_not_before', 'gauge', "Unix timestamp of the certificate's NotBefore.");
  for (const s of certSeries) lines.push(`x509_cert_not_before${s.l} ${s.notBefore}`);
  fam('x509_cert_expired', 'gauge', '1 if the certificate is expired, 0 otherwise.');
  for (const s of certSeries) lines.push(`x509_cert_expired${s.l} ${s.notAfter <= nowS ? 1 : 0}`);
  fam('x509_cert_expires_in_seconds', 'gauge', "Seconds until the certificate's NotAfter.");
  for (const s of certSeries) lines.push(`x509_cert_expires_in_seconds${s.l} ${Math.round(s.notAfter - nowS)}`);
  fam('x509_cert_valid_since_seconds', 'gauge', "Seconds since the certificate's NotBefore.");
  for (const s of certSeries) lines.push(`x509_cert_valid_since_seconds${s.l} ${Math.round(nowS - s.notBefore)}`);

  fam('x509_source_up', 'gauge', '1 if the source has produced its first sync, 0 otherwise.');
  for (const c of m.clusters.values())
    for (const s of c.sources.values())
      lines.push(
        `x509_source_up${labels({ cluster: c.name, source_kind: s.name.split(':')[0] ?? s.name, source_name: s.name })} ${s.lastSuccess ? 1 : 0}`,
      );

  fam('anchorage_findings', 'gauge', 'Open findings (not resolved, not acknowledged) by id, severity and cluster.');
  const counts = new Map<string, number>();
  const acked = new Map<string, number>();
  for (const c of m.clusters.values()) {
    // Every id the scan knows about this cluster appears once it has been seen, at 0 when resolved.
    for (const f of m.findings.values()) {
      if (f.cluster !== c.name) continue;
      const key = labels({ id: f.id, severity: f.severity, cluster: f.cluster });
      if (!counts.has(key)) counts.set(key, 0);
      if (f.resolvedAt !== undefined) continue;
      if (m.withAck(f).ack) acked.set(key, (acked.get(key) ?? 0) + 1);
      else counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  for (const [k, n] of counts) lines.push(`anchorage_findings${k} ${n}`);
  fam('anchorage_findings_acknowledged', 'gauge', 'Unresolved findings silenced by an acknowledgement that has not expired.');
  for (const [k, n] of acked) lines.push(`anchorage_findings_acknowledged${k} ${n}`);

  fam('anchorage_certificates', 'gauge', 'Certificates by cluster and health.');
  for (const v of m.views()) {
    const h = new Map<string, number>();
    for (const s of v.summaries.values()) h.set(s.health, (h.get(s.health) ?? 0) + 1);
    for (const [health, n] of h) lines.push(`anchorage_certificates${labels({ cluster: v.cluster, health })} ${n}`);
  }
  fam('anchorage_source_up', 'gauge', '1 when the source read without error last time, 0 when it is stale or failing.');
  for (const c of m.clusters.values())
    for (const s of c.sources.values())
      lines.push(`anchorage_source_up${labels({ cluster: c.name, source: s.name })} ${s.status === 'ok' ? 1 : 0}`);
  fam('anchorage_source_objects', 'gauge', 'Objects a source holds.');
  for (const c of m.clusters.values())
    for (const s of c.sources.values()) lines.push(`anchorage_source_objects${labels({ cluster: c.name, source: s.name })} ${s.objects}`);
  fam('anchorage_scan_duration_seconds', 'gauge', "How long the cluster's last scan took.");
  for (const c of m.clusters.values())
    lines.push(`anchorage_scan_duration_seconds${labels({ cluster: c.name })} ${(c.lastScanMs / 1000).toFixed(3)}`);
  fam('anchorage_scans_total', 'counter', 'Scans of the cluster since start.');
  for (const c of m.clusters.values()) lines.push(`anchorage_scans_total${labels({ cluster: c.name })} ${c.scans}`);
  fam('anchorage_last_scan_timestamp_seconds', 'gauge', "Unix time of the cluster's last scan.");
  for (const c of m.clusters.values())
    if (c.view) lines.push(`anchorage_last_scan_timestamp_seconds${labels({ cluster: c.name })} ${c.view.at.getTime() / 1000}`);
  fam('anchorage_store_up', 'gauge', '1 when the last write to the store succeeded.');
  lines.push(`anchorage_store_up ${m.store.ok ? 1 : 0}`);
  fam('anchorage_errors_total', 'counter', 'Source and store failures since start.');
  lines.push(`anchorage_errors_total ${m.errors}`);
  const mem = process.memoryUsage();
  fam('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.');
  lines.push(`process_resident_memory_bytes ${mem.rss}`);
  fam('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.');
  const cpu = process.cpuUsage();
  lines.push(`process_cpu_seconds_total ${((cpu.user + cpu.system) / 1e6).toFixed(3)}`);
  return `${lines.join('\n')}\n`;
}
