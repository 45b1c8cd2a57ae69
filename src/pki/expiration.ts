// kubeadm's `certs check-expiration`, computed for one node from the plan and the material.
import type { MaterialMap } from './materialize.ts';
import type { Plan } from './plan.ts';

export interface ExpirationRow {
  name: string;
  expirationDate?: Date;
  residualSeconds?: number;
  caName?: string;
  externallyManaged: boolean;
  missing: boolean;
}

export interface ExpirationInfo {
  node: string;
  certificates: ExpirationRow[];
  certificateAuthorities: ExpirationRow[];
}

// kubeadm reports these names; kubelet.conf is left out (the kubelet rotates it itself).
const KUBEADM_LEAVES = new Set([
  'admin.conf',
  'apiserver',
  'apiserver-etcd-client',
  'apiserver-kubelet-client',
  'controller-manager.conf',
  'etcd-healthcheck-client',
  'etcd-peer',
  'etcd-server',
  'front-proxy-client',
  'scheduler.conf',
  'super-admin.conf',
]);

export function checkExpiration(plan: Plan, material: MaterialMap, node: string, now: Date): ExpirationInfo {
  const certificates: ExpirationRow[] = [];
  const cas: ExpirationRow[] = [];
  const row = (name: string, id: string, caName?: string, externallyManaged = false): ExpirationRow => {
    const m = material.get(id);
    const r: ExpirationRow = { name, externallyManaged, missing: !m };
    if (caName) r.caName = caName;
    if (m) {
      r.expirationDate = m.cert.notAfter;
      r.residualSeconds = Math.max(0, Math.floor((m.cert.notAfter.getTime() - now.getTime()) / 1000));
    }
    return r;
  };
  const hardWay = plan.config.layout === 'hard-way';
  for (const p of plan.certs) {
    if (p.ca) {
      if (p.offline) continue;
      // kubeadm: a CA is externally managed when its key is absent.
      cas.push(row(p.kubeadmName, p.id, undefined, p.external || !material.get(p.id)?.key));
    } else if (p.node === node && (hardWay || KUBEADM_LEAVES.has(p.kubeadmName))) {
      certificates.push(row(p.kubeadmName, p.id, p.signer ?? undefined, p.external));
    }
  }
  const byName = (a: ExpirationRow, b: ExpirationRow): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { node, certificates: certificates.sort(byName), certificateAuthorities: cas.sort(byName) };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's "Jan 02, 2006 15:04 MST" in UTC. */
export function kubeadmDate(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())}, ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())} UTC`;
}

/** kubeadm's duration.ShortHumanDuration. */
export function shortHumanDuration(seconds: number): string {
  if (seconds < 0) return '<invalid>';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 24) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365) return `${days}d`;
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** The two tables kubeadm prints (tabwriter with padding 3). */
export function renderExpirationText(info: ExpirationInfo): string {
  const table = (headers: string[], rows: string[][]): string => {
    const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]): string => `${cells.map((c, i) => c.padEnd((w[i] ?? 0) + 3)).join('')}\n`;
    return line(headers) + rows.map(line).join('');
  };
  const yn = (b: boolean): string => (b ? 'yes' : 'no');
  const certRows = info.certificates.map((r) =>
    r.missing
      ? [`!MISSING! ${r.name}`, '', '', '', '']
      : [
          r.name,
          kubeadmDate(r.expirationDate as Date),
          shortHumanDuration(r.residualSeconds ?? 0),
          r.caName ?? '',
          yn(r.externallyManaged),
        ],
  );
  const caRows = info.certificateAuthorities.map((r) =>
    r.missing
      ? [`!MISSING! ${r.name}`, '', '', '']
      : [r.name, kubeadmDate(r.expirationDate as Date), shortHumanDuration(r.residualSeconds ?? 0), yn(r.externallyManaged)],
  );
  return `${table(['CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED'], certRows)}\n${table(['CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'EXTERNALLY MANAGED'], caRows)}`;
}

/** kubeadm's output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo. */
export function expirationObject(info: ExpirationInfo): Record<string, unknown> {
  const item = (r: ExpirationRow): Record<string, unknown> => {
    const o: Record<string, unknown> = { name: r.name };
    if (r.expirationDate) o.expirationDate = r.expirationDate.toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (r.residualSeconds) o.residualTime = r.residualSeconds;
    if (r.caName) o.caName = r.caName;
    o.externallyManaged = r.externallyManaged;
    if (r.missing) o.missing = true;
    return o;
  };
  return {
    kind: 'CertificateExpirationInfo',
    apiVersion: 'output.kubeadm.k8s.io/v1alpha3',
    certificates: info.certificates.map(item),
    certificateAuthorities: info.certificateAuthorities.map(item),
  };
}
