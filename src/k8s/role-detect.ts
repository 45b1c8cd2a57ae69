// Which Kubernetes role a certificate plays: from where it was found (kubeadm/kubelet/hard-way file
// names) or, failing that, from its CN. Several roles can fit; the one the certificate resembles most wins.

import type { Certificate } from '../x509/certificate.ts';
import { nameGetAll } from '../x509/name.ts';
import { OID } from '../x509/oids.ts';
import { isPureTemplate, K8S_ROLE_LIST, type K8sRole, matchTemplate, type TemplateVars } from './roles.ts';

export interface RoleHint {
  /** File path the certificate was read from. */
  path?: string;
  /** Position inside the file, e.g. "clusters[k].certificate-authority-data". */
  location?: string;
  /** The file holds more than one certificate (a chain or a bundle). */
  multiple?: boolean;
}

// File patterns indexed by their last path segment: a path costs one map lookup plus the few wildcard
// patterns, not a regex per role.
interface Compiled {
  role: K8sRole;
  re: RegExp;
  /** More path segments, then longer literal text: the more specific pattern wins. */
  weight: number;
}
const byBasename = new Map<string, Compiled[]>();
const wildcards: Compiled[] = [];
for (const role of K8S_ROLE_LIST) {
  for (const f of role.files) {
    const body = f.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*');
    const c: Compiled = { role, re: new RegExp(`(^|/)${body}$`), weight: f.split('/').length * 1000 + f.replaceAll('*', '').length };
    const last = f.slice(f.lastIndexOf('/') + 1);
    if (last.includes('*')) wildcards.push(c);
    else byBasename.set(last, [...(byBasename.get(last) ?? []), c]);
  }
}

/** Roles whose file pattern matches the path, most specific pattern only, in table order. */
export function rolesForPath(path: string): K8sRole[] {
  const p = path.includes('\\') ? path.replaceAll('\\', '/') : path;
  const base = p.slice(p.lastIndexOf('/') + 1);
  // Allocation-free until a pattern matches: a scan asks this for every place of every CA (20,000 Secrets).
  let weights: Map<K8sRole, number> | undefined;
  const named = byBasename.get(base);
  const n = named?.length ?? 0;
  for (let i = 0; i < n + wildcards.length; i++) {
    const c = (i < n ? named?.[i] : wildcards[i - n]) as Compiled;
    if (!c.re.test(p)) continue;
    weights ??= new Map();
    weights.set(c.role, Math.max(weights.get(c.role) ?? -1, c.weight));
  }
  if (!weights?.size) return [];
  const top = Math.max(...weights.values());
  return K8S_ROLE_LIST.filter((r) => weights?.get(r) === top);
}

function ekuSet(cert: Certificate): Set<string> {
  return new Set(cert.extKeyUsage ?? []);
}

/** How much the certificate looks like the role: CN, O, EKU and the CA flag. */
function score(role: K8sRole, cert: Certificate): number {
  let s = 0;
  const cn = cert.commonName ?? '';
  if (matchTemplate(role.cn, cn)) s += 4;
  const o = nameGetAll(cert.subjectRdns, OID.O);
  if (sameSet(o, role.o) || role.legacyO?.some((l) => sameSet(o, l))) s += 2;
  const eku = ekuSet(cert);
  if (role.eku.length && role.eku.every((e) => eku.has(e))) s += eku.size === role.eku.length ? 2 : 1;
  if (role.ca === cert.isCA) s += 3;
  return s;
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((v, i) => v === sb[i]);
}

function best(cands: K8sRole[], cert: Certificate): K8sRole | undefined {
  let top: K8sRole | undefined;
  let topScore = -1;
  for (const r of cands) {
    const s = score(r, cert);
    if (s > topScore) {
      top = r;
      topScore = s;
    }
  }
  return top;
}

export function detectRole(cert: Certificate, hint: RoleHint = {}): K8sRole | undefined {
  if (hint.path) {
    let cands = rolesForPath(hint.path);
    // A kubeconfig's certificate-authority-data is the cluster CA, whatever the file's own role.
    if (hint.location?.includes('certificate-authority')) cands = K8S_ROLE_LIST.filter((r) => r.ca);
    // In a chain file (leaf plus CAs) the path names the leaf; the CAs are recognised by their own names below.
    else if (hint.multiple) cands = cands.filter((r) => r.ca === cert.isCA);
    const r = best(cands, cert);
    if (r) {
      // File names are shared between layouts (admin.crt is the hard way's, and where people copy kubeadm's
      // admin client): a certificate whose CN and O are exactly another layout's role is that role.
      const other = r.ca === cert.isCA && !matchTemplate(r.cn, cert.commonName ?? '') ? otherLayout(r, byIdentity(cert)) : undefined;
      return other ?? r;
    }
  }
  const cn = cert.commonName;
  if (cn === undefined) return undefined;
  const byCn = K8S_ROLE_LIST.filter((r) => r.ca === cert.isCA && !isPureTemplate(r.cn) && matchTemplate(r.cn, cn));
  return best(byCn, cert);
}

const hardWay = (r: K8sRole): boolean => r.profile === 'hard-way';

/** The identity belongs only to the other layout: the file name misled. A same-layout match means a swapped file. */
function otherLayout(pathRole: K8sRole, identity: K8sRole[]): K8sRole | undefined {
  if (identity.some((x) => hardWay(x) === hardWay(pathRole))) return undefined;
  return identity[0];
}

/** Roles whose CN template and O set the certificate matches exactly. */
function byIdentity(cert: Certificate): K8sRole[] {
  const cn = cert.commonName ?? '';
  const o = nameGetAll(cert.subjectRdns, OID.O);
  return K8S_ROLE_LIST.filter(
    (r) =>
      r.ca === cert.isCA && !isPureTemplate(r.cn) && matchTemplate(r.cn, cn) && (sameSet(o, r.o) || r.legacyO?.some((l) => sameSet(o, l))),
  );
}

/** Values for the role's templates: the node name from the CN, the rest from the caller (policy). */
export function roleVars(role: K8sRole, cert: Certificate, base: TemplateVars): TemplateVars {
  const fromCn = matchTemplate(role.cn, cert.commonName ?? '') ?? {};
  return { ...base, ...fromCn };
}
