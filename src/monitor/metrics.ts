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

/** What a label value must have escaped in the text format: backslash, double quote, line feed. */
const NEEDS_ESCAPE = /[\\\n"]/;

function esc(v: string): string {
  // Most values need nothing: one test instead of three replacements (a scrape writes ~12 values a line, 1M lines at 100k Secrets).
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

/** `k="v",…` for the labels that have a value, in the object's order: labels() without the braces. */
function labelText(l: Record<string, string>): string {
  let out = '';
  for (const k in l) {
    const v = l[k] as string;
    if (v === '') continue;
    out += out === '' ? `${k}="${esc(v)}"` : `,${k}="${esc(v)}"`;
  }
  return out;
}

function labels(l: Record<string, string>): string {
  return `{${labelText(l)}}`;
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

/**
 * Which places of one certificate start a series: two places with the same labels are one series. Labels come from
 * the place's source, its position only for a kubeconfig's embedded data, so two places share them only when they
 * share a source, or when both are caBundle places (whose entry is shortened: `caBundle` and `conversion.caBundle`
 * both give no entry). In a list in source order (the monitor's views are) a place is compared with the places of
 * its source before it, and caBundle places with each other; a set of every place's labels (the hub CA of 100,000
 * Secrets: 100,000 strings, each family) made a scrape at 100,000 Secrets take twice as long and 30 MiB more.
 * Another order falls back to that set.
 */
export class SeriesOnce {
  private readonly all?: Set<string>;
  private source?: string;
  private readonly ofSource: string[] = [];
  private bundles?: Set<string>;

  constructor(places: readonly Location[]) {
    for (let i = 1; i < places.length; i++)
      if ((places[i - 1] as Location).source > (places[i] as Location).source) {
        this.all = new Set();
        break;
      }
  }

  /** Whether a place of `source` labelled `text` is the first with those labels. */
  first(source: string, text: string): boolean {
    if (this.all) {
      if (this.all.has(text)) return false;
      this.all.add(text);
      return true;
    }
    if (source !== this.source) {
      this.source = source;
      this.ofSource.length = 0;
    } else if (this.ofSource.includes(text)) return false;
    this.ofSource.push(text);
    if (text.startsWith('cabundle_')) {
      this.bundles ??= new Set();
      if (this.bundles.has(text)) return false;
      this.bundles.add(text);
    }
    return true;
  }
}

export interface ProcessStats {
  http: Map<string, number>;
}

/** A chunk of /metrics text is handed on once it holds this many characters. */
const CHUNK = 64 * 1024;

/**
 * Everything /metrics answers, in chunks of ~64 KiB as it is made: at 100,000 Secrets the certificate families
 * are ~1,000,000 lines (265 MB), which made as one text took the server from ~210 MiB to 1.4 GB of RSS for each
 * scrape. Each family walks the certificates again (the text format wants a family's lines together) instead of
 * holding every place's labels; the views are the ones of the scrape's start.
 */
export function* metricsChunks(m: Monitor, now: Date = m.now()): Generator<string> {
  let lines: string[] = [];
  let size = 0;
  const line = (s: string): void => {
    lines.push(s);
    size += s.length + 1;
  };
  const take = (): string => {
    const t = `${lines.join('\n')}\n`;
    lines = [];
    size = 0;
    return t;
  };
  const fam = (name: string, type: string, help: string): void => {
    line(`# HELP ${name} ${help}`);
    line(`# TYPE ${name} ${type}`);
  };
  const nowS = now.getTime() / 1000;
  const views = [...m.views()];
  const families: [name: string, help: string, value: (notAfter: number, notBefore: number) => number][] = [
    ['x509_cert_not_after', "Unix timestamp of the certificate's NotAfter.", (a) => a],
    ['x509_cert_not_before', "Unix timestamp of the certificate's NotBefore.", (_, b) => b],
    ['x509_cert_expired', '1 if the certificate is expired, 0 otherwise.', (a) => (a <= nowS ? 1 : 0)],
    ['x509_cert_expires_in_seconds', "Seconds until the certificate's NotAfter.", (a) => Math.round(a - nowS)],
    ['x509_cert_valid_since_seconds', "Seconds since the certificate's NotBefore.", (_, b) => Math.round(nowS - b)],
  ];
  for (const [name, help, value] of families) {
    fam(name, 'gauge', help);
    for (const v of views) {
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
        // A series' labels are its place's, then the certificate's (never empty: cluster and serial_number), the
        // certificate's written once for all its places. Two places with the same labels are one series.
        const certText = labelText(base);
        const x = value(cert.notAfter.getTime() / 1000, cert.notBefore.getTime() / 1000);
        const once = new SeriesOnce(c.locations);
        for (const loc of c.locations) {
          const placeText = labelText(locationLabels(loc));
          if (!once.first(loc.source, placeText)) continue;
          line(placeText === '' ? `${name}{${certText}} ${x}` : `${name}{${placeText},${certText}} ${x}`);
          if (size >= CHUNK) yield take();
        }
      }
    }
  }

  fam('x509_source_up', 'gauge', '1 if the source has produced its first sync, 0 otherwise.');
  for (const c of m.clusters.values())
    for (const s of c.sources.values())
      line(
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
  for (const [k, n] of counts) line(`anchorage_findings${k} ${n}`);
  fam('anchorage_findings_acknowledged', 'gauge', 'Unresolved findings silenced by an acknowledgement that has not expired.');
  for (const [k, n] of acked) line(`anchorage_findings_acknowledged${k} ${n}`);

  fam('anchorage_certificates', 'gauge', 'Certificates by cluster and health.');
  for (const v of views) {
    const h = new Map<string, number>();
    for (const s of v.summaries.values()) h.set(s.health, (h.get(s.health) ?? 0) + 1);
    for (const [health, n] of h) line(`anchorage_certificates${labels({ cluster: v.cluster, health })} ${n}`);
  }
  fam('anchorage_source_up', 'gauge', '1 when the source read without error last time, 0 when it is stale or failing.');
  for (const c of m.clusters.values())
    for (const s of c.sources.values())
      line(`anchorage_source_up${labels({ cluster: c.name, source: s.name })} ${s.status === 'ok' ? 1 : 0}`);
  fam('anchorage_source_objects', 'gauge', 'Objects a source holds.');
  for (const c of m.clusters.values())
    for (const s of c.sources.values()) line(`anchorage_source_objects${labels({ cluster: c.name, source: s.name })} ${s.objects}`);
  fam('anchorage_scan_duration_seconds', 'gauge', "How long the cluster's last scan took.");
  for (const c of m.clusters.values())
    line(`anchorage_scan_duration_seconds${labels({ cluster: c.name })} ${(c.lastScanMs / 1000).toFixed(3)}`);
  fam('anchorage_scans_total', 'counter', 'Scans of the cluster since start.');
  for (const c of m.clusters.values()) line(`anchorage_scans_total${labels({ cluster: c.name })} ${c.scans}`);
  fam('anchorage_last_scan_timestamp_seconds', 'gauge', "Unix time of the cluster's last scan.");
  for (const c of m.clusters.values())
    if (c.view) line(`anchorage_last_scan_timestamp_seconds${labels({ cluster: c.name })} ${c.view.at.getTime() / 1000}`);
  fam('anchorage_store_up', 'gauge', '1 when the last write to the store succeeded.');
  line(`anchorage_store_up ${m.store.ok ? 1 : 0}`);
  fam('anchorage_errors_total', 'counter', 'Source and store failures since start.');
  line(`anchorage_errors_total ${m.errors}`);
  const mem = process.memoryUsage();
  fam('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.');
  line(`process_resident_memory_bytes ${mem.rss}`);
  fam('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.');
  const cpu = process.cpuUsage();
  line(`process_cpu_seconds_total ${((cpu.user + cpu.system) / 1e6).toFixed(3)}`);
  yield take();
}
