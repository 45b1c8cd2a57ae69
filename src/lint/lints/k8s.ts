// Kubernetes role checks: does a component certificate carry the CN, O, EKU, SANs and issuer its role
// needs (src/k8s/roles.ts)? Plus the set-level checks: CA files holding leaves, keys shared across identities.
import { isIP } from 'node:net';
import { roleVars, sameSet } from '../../k8s/role-detect.ts';
import {
  APISERVER_ROLES,
  fillTemplate,
  K8S_ROLE_LIST,
  K8S_ROLES,
  type K8sRole,
  matchTemplate,
  NODE_CLIENT_ROLES,
  NODE_SERVING_ROLES,
  type TemplateVars,
} from '../../k8s/roles.ts';
import type { Certificate } from '../../x509/certificate.ts';
import { nameGetAll } from '../../x509/name.ts';
import { OID } from '../../x509/oids.ts';
import { canonicalIp, firstHostIp } from '../net.ts';
import type { Policy } from '../policy.ts';
import { defineLint, type LintContext } from '../types.ts';
import { ekus, list } from './util.ts';

const K8S = 'Kubernetes PKI (kubeadm certlist.go, kubelet CSR signers)';
const NODE_ROLES = new Set([...NODE_CLIENT_ROLES, ...NODE_SERVING_ROLES]);

const policyVars = new WeakMap<Policy['kubernetes'], TemplateVars>();
function baseVars(policy: Policy): TemplateVars {
  let v = policyVars.get(policy.kubernetes);
  if (!v) {
    const cidr = policy.kubernetes.serviceCIDR.split(',')[0] as string;
    v = { dnsDomain: policy.kubernetes.dnsDomain, serviceIP: firstHostIp(cidr) };
    policyVars.set(policy.kubernetes, v);
  }
  return v;
}

/** Required SANs the certificate lacks, as "DNS:x" / "IP:y"; templates without a value are skipped. */
function missingSans(cert: Certificate, role: K8sRole, ctx: LintContext): string[] {
  const vars = roleVars(role, cert, baseVars(ctx.policy));
  const dns = cert.sans.dns;
  // Lowered only when a name is not among them as it is (names are mostly lower case already).
  let lowered: string[] | undefined;
  // The IP SANs are formatIp's text of their bytes, canonical already (canonicalIp of one is itself).
  const ips = cert.sans.ip;
  const out: string[] = [];
  for (const t of role.sans) {
    const v = fillTemplate(t, vars);
    if (v === undefined) continue;
    if (isIP(v)) {
      if (!ips.includes(canonicalIp(v))) out.push(`IP:${v}`);
    } else {
      const lv = v.toLowerCase();
      if (dns.includes(lv)) continue;
      lowered ??= dns.map((d) => d.toLowerCase());
      if (!lowered.includes(lv)) out.push(`DNS:${v}`);
    }
  }
  return out;
}

const leafRole = (ctx: LintContext): K8sRole | undefined => (ctx.role && !ctx.role.ca ? ctx.role : undefined);
const orgs = (cert: Certificate): string[] => nameGetAll(cert.subjectRdns, OID.O);

export const wrongCn = defineLint({
  id: 'k8s.role.wrong-cn',
  severity: 'error',
  description: 'A Kubernetes component certificate has the wrong CN for its role (the CN is the user name RBAC sees).',
  remediation: 'Reissue with the CN the role table gives (kubeadm certs renew keeps the existing one: fix it by reissuing).',
  source: K8S,
  appliesTo: (_cert, ctx) => leafRole(ctx) !== undefined && !NODE_ROLES.has(ctx.role?.name ?? ''),
  check: (cert, ctx) => {
    const role = ctx.role as K8sRole;
    const cn = cert.commonName;
    return matchTemplate(role.cn, cn ?? '') ? [] : [`${role.name} certificate has CN ${cn ?? '(none)'}; expected ${role.cn}`];
  },
});

export const wrongO = defineLint({
  id: 'k8s.role.wrong-o',
  severity: 'error',
  description: 'A Kubernetes component certificate has the wrong O (groups) for its role.',
  remediation: 'Reissue with the organizations the role table gives; an extra system:masters grants cluster-admin.',
  source: K8S,
  appliesTo: (_cert, ctx) => leafRole(ctx) !== undefined && !NODE_ROLES.has(ctx.role?.name ?? ''),
  check: (cert, ctx) => {
    const role = ctx.role as K8sRole;
    const o = orgs(cert);
    if (sameSet(o, role.o) || role.legacyO?.some((l) => sameSet(o, l))) return [];
    return [`${role.name} certificate has O ${list(o)}; expected ${list(role.o)}`];
  },
});

function nodeSubjectProblems(cert: Certificate): string[] {
  const out: string[] = [];
  const cn = cert.commonName;
  if (!cn || !/^system:node:\S+$/.test(cn)) out.push(`CN is ${cn ?? '(none)'}; expected system:node:<nodeName>`);
  const o = orgs(cert);
  if (!sameSet(o, ['system:nodes'])) out.push(`O is ${list(o)}; expected exactly system:nodes`);
  return out;
}

export const kubeletClientSubject = defineLint({
  id: 'k8s.role.kubelet-client-subject',
  severity: 'error',
  description: 'A kubelet client certificate is not CN=system:node:<name>, O=system:nodes (the Node authorizer will deny it).',
  remediation: 'Reissue the kubelet client certificate with CN=system:node:<nodeName> and O=system:nodes only.',
  source: 'kubernetes.io/kube-apiserver-client-kubelet signer',
  appliesTo: (_cert, ctx) => NODE_CLIENT_ROLES.has(ctx.role?.name ?? ''),
  check: (cert) => nodeSubjectProblems(cert),
});

export const kubeletServingSubject = defineLint({
  id: 'k8s.role.kubelet-serving-subject',
  severity: 'error',
  description: 'A kubelet serving certificate is not CN=system:node:<name>, O=system:nodes.',
  remediation: 'Request it through the kubernetes.io/kubelet-serving signer with the node identity as subject.',
  source: 'kubernetes.io/kubelet-serving signer',
  appliesTo: (_cert, ctx) => NODE_SERVING_ROLES.has(ctx.role?.name ?? ''),
  check: (cert) => nodeSubjectProblems(cert),
});

export const missingEku = defineLint({
  id: 'k8s.role.missing-eku',
  severity: 'error',
  description: 'A component certificate lacks the extended key usage its role needs (e.g. a server certificate used for client auth).',
  remediation: 'Reissue with the EKUs the role table gives (clientAuth for clients, serverAuth for servers, both for etcd).',
  source: K8S,
  appliesTo: (cert, ctx) => {
    const e = cert.extKeyUsage;
    return leafRole(ctx) !== undefined && e !== undefined && !e.includes('anyExtendedKeyUsage');
  },
  check: (cert, ctx) => {
    const role = ctx.role as K8sRole;
    const have = ekus(cert);
    const missing = role.eku.filter((e) => !have.includes(e));
    return missing.length ? [`${role.name} certificate needs ${missing.join(' and ')}; it has ${list(have)}`] : [];
  },
});

export const extraEku = defineLint({
  id: 'k8s.role.extra-eku',
  severity: 'notice',
  description: 'A component certificate allows more than its role needs (extra EKUs, anyExtendedKeyUsage, or no EKU at all).',
  remediation: 'Issue only the EKUs the role needs, so a stolen client key cannot serve TLS and vice versa.',
  source: K8S,
  appliesTo: (_cert, ctx) => leafRole(ctx) !== undefined,
  check: (cert, ctx) => {
    const role = ctx.role as K8sRole;
    const have = cert.extKeyUsage;
    if (have === undefined) return [`${role.name} certificate has no extendedKeyUsage, so it is valid for any purpose`];
    const extra = have.filter((e) => !(role.eku as readonly string[]).includes(e));
    return extra.length ? [`${role.name} certificate also allows ${extra.join(', ')} (needs ${list(role.eku)})`] : [];
  },
});

export const apiserverMissingSan = defineLint({
  id: 'k8s.apiserver.missing-san',
  severity: 'error',
  description: 'The apiserver certificate lacks a SAN in-cluster clients use (service IP, kubernetes.default.svc.<domain>, ...).',
  remediation: 'Reissue the apiserver certificate with the missing SANs (kubeadm: certSANs, then kubeadm init phase certs apiserver).',
  source: 'kubeadm certlist.go (apiserver alt names)',
  appliesTo: (_cert, ctx) => APISERVER_ROLES.has(ctx.role?.name ?? ''),
  check: (cert, ctx) => {
    const m = missingSans(cert, ctx.role as K8sRole, ctx);
    return m.length ? [`apiserver certificate lacks ${m.join(', ')}`] : [];
  },
});

export const roleMissingSan = defineLint({
  id: 'k8s.role.missing-san',
  severity: 'error',
  description:
    'A component serving certificate lacks a SAN its role needs (etcd: localhost, 127.0.0.1, ::1, node name; kubelet: a DNS or IP).',
  remediation: 'Reissue with the SANs the role table gives.',
  source: K8S,
  appliesTo: (_cert, ctx) => leafRole(ctx) !== undefined && !APISERVER_ROLES.has(ctx.role?.name ?? ''),
  check: (cert, ctx) => {
    const role = ctx.role as K8sRole;
    const out: string[] = [];
    const m = missingSans(cert, role, ctx);
    if (m.length) out.push(`${role.name} certificate lacks ${m.join(', ')}`);
    const n = cert.sans.dns.length + cert.sans.ip.length;
    if (role.minSans && n < role.minSans) out.push(`${role.name} certificate has ${n} DNS/IP SANs; at least ${role.minSans} needed`);
    return out;
  },
});

export const forbiddenSan = defineLint({
  id: 'k8s.role.forbidden-san',
  severity: 'error',
  description: "A certificate carries SAN types its role's signer rejects (kubelet serving: no email or URI SANs).",
  remediation: 'Request the certificate with DNS and IP SANs only.',
  source: 'kubernetes.io/kubelet-serving signer',
  appliesTo: (_cert, ctx) => (ctx.role?.forbiddenSanTypes?.length ?? 0) > 0,
  check: (cert, ctx) => {
    const role = ctx.role as K8sRole;
    return (role.forbiddenSanTypes ?? []).flatMap((t) =>
      cert.sans[t].length ? [`${role.name} certificate has ${t === 'uri' ? 'URI' : 'email'} SANs: ${cert.sans[t].join(', ')}`] : [],
    );
  },
});

/** The CA role named by the issuer's CN within the same family of profiles, if any. */
function issuerRole(cert: Certificate, role: K8sRole): K8sRole | undefined {
  const cn = cert.issuerRdns.flat().find((a) => a.type === OID.CN)?.value;
  if (cn === undefined) return undefined;
  const hardWay = role.profile === 'hard-way';
  return K8S_ROLE_LIST.find((r) => r.ca && (r.profile === 'hard-way') === hardWay && r.cn === cn);
}

export const wrongSigner = defineLint({
  id: 'k8s.role.wrong-signer',
  severity: 'error',
  description: 'A component certificate is signed by the wrong cluster CA (e.g. front-proxy-client by the main CA).',
  remediation: 'Reissue it from the CA the role table names (front-proxy-ca, etcd-ca or ca); components trust only that CA for the role.',
  source: K8S,
  appliesTo: (_cert, ctx) => leafRole(ctx) !== undefined && ctx.role?.signer !== 'self',
  check: (cert, ctx) => {
    const role = ctx.role as K8sRole;
    const actual = issuerRole(cert, role);
    if (!actual || actual.name === role.signer) return [];
    return [
      `${role.name} certificate is issued by ${actual.name} (CN=${actual.cn}); expected ${role.signer} (CN=${K8S_ROLES[role.signer]?.cn})`,
    ];
  },
});

const CA_FILE =
  /(^|[/\\])([^/\\]*[-_.])?(ca|cacert|ca-?bundle|trust-?bundle|ca-certificates|client-ca|requestheader-client-ca)\.(crt|pem|cer)$/i;

/**
 * The source is meant to hold CA certificates only: a kubeconfig's certificate-authority data, a file at a
 * Kubernetes CA position (ca.crt, etcd/ca.crt, front-proxy-ca.crt: components load it as a trust anchor),
 * or a bundle (several certificates) whose name says CA. A single certificate whose file name merely ends
 * in -ca.pem is not evidence enough: the name alone does not make a file a trust anchor.
 */
function isCaSource(ctx: LintContext): boolean {
  if (ctx.location?.includes('certificate-authority')) return true;
  if (ctx.role?.ca) return true;
  return ctx.sourceCount > 1 && ctx.source !== undefined && CA_FILE.test(ctx.source);
}

export const bundleNonCa = defineLint({
  id: 'k8s.bundle.non-ca',
  severity: 'error',
  description: 'A CA file or trust bundle holds a certificate that is not a CA.',
  remediation: 'Remove leaf certificates from CA files and bundles: trusting a leaf as an anchor is almost always a mistake.',
  source: 'Kubernetes trust distribution',
  // Version 1 self-signed roots predate basicConstraints: trust stores still accept them as anchors.
  appliesTo: (cert, ctx) => isCaSource(ctx) && !(cert.version < 3 && cert.selfIssued),
  check: (cert, ctx) => (cert.isCA ? [] : [`${ctx.source ?? 'CA data'} is a CA file but holds a non-CA certificate`]),
});

/** The names a shared-key finding lists, by list: LintIndex.sharersOf gives most holders of a key one list. */
const namesOf = new WeakMap<readonly Certificate[], string>();
function sharerNames(list: readonly Certificate[]): string {
  let names = namesOf.get(list);
  if (names === undefined) {
    names = list.map((c) => c.subject || '(empty subject)').join('; ');
    namesOf.set(list, names);
  }
  return names;
}

export const sharedKey = defineLint({
  id: 'k8s.key.shared-across-roles',
  severity: 'warning',
  description: 'Two certificates with different subjects share one key pair.',
  remediation: 'Give every identity its own key; a compromise of one then stays one compromise.',
  source: 'Kubernetes PKI hygiene',
  appliesTo: (_cert, ctx) => ctx.sharedKeyWith.length > 0,
  check: (_cert, ctx) => {
    const more = (ctx.sharedKeyTotal ?? 0) - ctx.sharedKeyWith.length;
    const names = sharerNames(ctx.sharedKeyWith);
    return [`same public key as ${names}${more > 0 ? ` and ${more} more` : ''}`];
  },
});

export const K8S_LINTS = [
  wrongCn,
  wrongO,
  kubeletClientSubject,
  kubeletServingSubject,
  missingEku,
  extraEku,
  apiserverMissingSan,
  roleMissingSan,
  forbiddenSan,
  wrongSigner,
  bundleNonCa,
  sharedKey,
];
