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

/** k8s.io/apimachinery duration.HumanDuration, which kubeadm's check-expiration printer uses. */
export function shortHumanDuration(seconds: number): string {
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** The two tables kubeadm prints (tabwriter: minwidth 10, padding 3; the last cell is Go's %-8v, not a column). */
export function renderExpirationText(info: ExpirationInfo): string {
  const table = (headers: string[], rows: string[][]): string => {
    const w = headers.map((h, i) => Math.max(10, h.length + 3, ...rows.map((r) => (r[i] ?? '').length + 3)));
    const line = (cells: string[]): string => `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(w[i] ?? 0))).join('')}\n`;
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
          yn(r.externallyManaged).padEnd(8),
        ],
  );
  const caRows = info.certificateAuthorities.map((r) =>
    r.missing
      ? [`!MISSING! ${r.name}`, '', '', '']
      : [r.name, kubeadmDate(r.expirationDate as Date), shortHumanDuration(r.residualSeconds ?? 0), yn(r.externallyManaged).padEnd(8)],
  );
  return `${table(['CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED'], certRows)}\n${table(['CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'EXTERNALLY MANAGED'], caRows)}`;
}

/** kubeadm's output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo. */
export function expirationObject(info: ExpirationInfo): Record<string, unknown> {
  const item = (r: ExpirationRow): Record<string, unknown> => {
    // kubeadm's Certificate JSON tags, in its field order: only caName is omitempty; a missing entry has name only.
    if (r.missing) return { name: r.name, expirationDate: null, residualTime: 0, externallyManaged: false, missing: true };
    const o: Record<string, unknown> = {
      name: r.name,
      expirationDate: r.expirationDate ? r.expirationDate.toISOString().replace(/\.\d{3}Z$/, 'Z') : null,
      residualTime: r.residualSeconds ?? 0,
      externallyManaged: r.externallyManaged,
    };
    if (r.caName) o.caName = r.caName;
    o.missing = false;
    return o;
  };
  return {
    kind: 'CertificateExpirationInfo',
    apiVersion: 'output.kubeadm.k8s.io/v1alpha3',
    certificates: info.certificates.map(item),
    certificateAuthorities: info.certificateAuthorities.map(item),
  };
}
