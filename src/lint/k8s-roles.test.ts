// The role table drives both detection and the role lints: a PKI issued from the table itself must lint
// clean, and the known upstream defects (hard-way typos) must be reported.
import { describe, expect, it } from 'vitest';
import { issue, NOW, newCa } from '../../test/support/lint-testkit.ts';
import { rng } from '../../test/support/mutations.ts';
import { detectRole, rolesForPath } from '../k8s/role-detect.ts';
import { fillTemplate, K8S_ROLE_LIST, K8S_ROLES, type K8sRole, matchTemplate, type TemplateVars } from '../k8s/roles.ts';
import type { IssuerRef } from '../x509/build.ts';
import type { Certificate } from '../x509/certificate.ts';
import { formatIp, parseIp } from '../x509/extensions.ts';
import { type LintTarget, lintCertificates } from './engine.ts';
import { canonicalIp, firstHostIp } from './net.ts';
import { parsePolicy } from './policy.ts';

const VARS: TemplateVars = { nodeName: 'cp1', dnsDomain: 'cluster.local', serviceIP: '10.96.0.1', advertiseAddress: '192.168.1.10' };

function fill(t: string, vars: TemplateVars = VARS): string {
  const v = fillTemplate(t, vars);
  if (v === undefined) throw new Error(`unfilled ${t}`);
  return v;
}

/** Issue one certificate for a role exactly as the table describes it. */
function issueRole(role: K8sRole, issuers: Map<string, IssuerRef>, vars: TemplateVars = VARS): Certificate {
  const subject = [...role.o.map((o) => `O=${o}`), `CN=${fill(role.cn, vars)}`].reverse().join(',');
  const sans = role.sans.map((s) => fill(s, vars));
  const ip = sans.filter((s) => /^[\d.]+$|:/.test(s));
  const dns = sans.filter((s) => !ip.includes(s));
  if (role.minSans && dns.length + ip.length === 0) dns.push(fill('{nodeName}', vars));
  if (role.ca) {
    const ca = newCa(subject, { keyUsage: [...role.keyUsage], validity: { days: role.validityDays }, sans: { dns } });
    issuers.set(role.name, ca);
    return ca.cert;
  }
  const issuer = issuers.get(role.signer);
  if (!issuer) throw new Error(`issue ${role.signer} before ${role.name}`);
  return issue(issuer, {
    subject,
    sans: { dns, ip },
    keyUsage: [...role.keyUsage],
    extKeyUsage: [...role.eku],
    validity: { days: role.validityDays },
  });
}

function pathFor(role: K8sRole): { source: string; location?: string } {
  const f = (role.files[0] as string).replace('*', 'current');
  if (f.endsWith('.conf')) return { source: `/etc/kubernetes/${f}`, location: 'users[default-auth].client-certificate-data line 1' };
  if (role.profile === 'kubelet') return { source: `/var/lib/kubelet/pki/${f}` };
  return { source: role.profile === 'hard-way' ? `/root/hard-way/${f}` : `/etc/kubernetes/pki/${f}` };
}

function issueProfile(profiles: string[]): { targets: LintTarget[]; byRole: Map<string, Certificate> } {
  const issuers = new Map<string, IssuerRef>();
  const byRole = new Map<string, Certificate>();
  const roles = K8S_ROLE_LIST.filter((r) => profiles.includes(r.profile));
  const targets: LintTarget[] = [];
  for (const role of [...roles.filter((r) => r.ca), ...roles.filter((r) => !r.ca)]) {
    const cert = issueRole(role, issuers);
    byRole.set(role.name, cert);
    targets.push({ cert, ...pathFor(role) });
  }
  return { targets, byRole };
}

describe('role table', () => {
  it('is keyed by role name, and every signer is a CA role of the table', () => {
    for (const [k, r] of Object.entries(K8S_ROLES)) {
      expect(r.name).toBe(k);
      if (r.signer !== 'self') expect(K8S_ROLES[r.signer]?.ca).toBe(true);
      expect(r.files.length).toBeGreaterThan(0);
    }
  });

  it('fills and matches templates', () => {
    expect(fillTemplate('kubernetes.default.svc.{dnsDomain}', VARS)).toBe('kubernetes.default.svc.cluster.local');
    expect(fillTemplate('{advertiseAddress}', {})).toBeUndefined();
    expect(matchTemplate('system:node:{nodeName}', 'system:node:w-1.example')).toEqual({ nodeName: 'w-1.example' });
    expect(matchTemplate('system:node:{nodeName}', 'system:nodes')).toBeUndefined();
    expect(matchTemplate('kube-apiserver', 'kube-apiserver')).toEqual({});
  });

  it('matches every template of the table as its placeholders read (one or more characters each), no more', () => {
    // The reading the role table documents: a placeholder stands for any run of one character or more, the rest
    // is literal. Values made from each template's pieces with the ends altered, beside the template's own shape.
    const templates = [...new Set(K8S_ROLE_LIST.flatMap((r) => [r.cn, ...r.sans]))];
    templates.push('a{nodeName}a', '{nodeName}.{dnsDomain}', 'x-{nodeName}-y');
    const pieces = (t: string): string[] => t.split(/\{(?:nodeName|dnsDomain|serviceIP|advertiseAddress)\}/);
    const reads = (t: string, v: string): boolean => {
      const parts = pieces(t);
      if (parts.length === 1) return v === t;
      // Literal pieces in order, with a gap of one character or more before each piece after the first.
      const rec = (i: number, at: number): boolean => {
        const p = parts[i] as string;
        if (i === 0) return v.startsWith(p) && rec(1, p.length);
        if (i === parts.length - 1) return v.length - p.length >= at + 1 && v.endsWith(p);
        for (let k = at + 1; k + p.length <= v.length; k++) if (v.startsWith(p, k) && rec(i + 1, k + p.length)) return true;
        return false;
      };
      return rec(0, 0);
    };
    let matched = 0;
    let values = 0;
    for (const t of templates) {
      const parts = pieces(t);
      const fills = ['w', 'worker-1.example', '', '.', '{nodeName}'];
      const candidates = new Set<string>([t, '', 'x', 'system:node:', 'system:nodes']);
      for (const f of fills) {
        const v = parts.join(f);
        candidates.add(v);
        candidates.add(`x${v}`);
        candidates.add(`${v}x`);
        candidates.add(v.slice(1));
        candidates.add(v.slice(0, -1));
        candidates.add(v.toUpperCase());
      }
      for (const v of candidates) {
        values++;
        const m = matchTemplate(t, v);
        expect(m !== undefined, `${t} against ${JSON.stringify(v)}`).toBe(reads(t, v));
        if (m) matched++;
      }
    }
    expect(values).toBeGreaterThan(300);
    expect(matched).toBeGreaterThan(50);
    // A template without a placeholder fills to itself.
    for (const t of templates) if (pieces(t).length === 1) expect(fillTemplate(t, {})).toBe(t);
  });

  it("takes the model's IP SAN text as canonical already (canonicalIp of formatIp's text is itself)", () => {
    // k8s.role.missing-san compares the role's IPs, made canonical, with the certificate's IP SANs as they are.
    const next = rng(20261204);
    for (let i = 0; i < 20_000; i++) {
      const b = new Uint8Array(i % 3 === 0 ? 4 : 16);
      // Runs of zero words as IPv6 text abbreviates them, and IPv4-mapped forms.
      for (let j = 0; j < b.length; j++) b[j] = next() < 0.5 ? 0 : Math.floor(next() * 256);
      if (i % 7 === 0 && b.length === 16) b.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 0);
      const text = formatIp(b);
      expect(canonicalIp(text), text).toBe(text);
      expect(Buffer.from(parseIp(text)).equals(Buffer.from(b)), text).toBe(true);
    }
  });

  it('computes the apiserver service IP as the first host of the service CIDR', () => {
    expect(firstHostIp('10.96.0.0/12')).toBe('10.96.0.1');
    expect(firstHostIp('10.96.7.9/12')).toBe('10.96.0.1');
    expect(firstHostIp('10.32.0.0/24')).toBe('10.32.0.1');
    expect(firstHostIp('fd00:10:96::/108')).toBe('fd00:10:96::1');
  });
});

describe('role detection', () => {
  it('maps kubeadm, kubelet and hard-way file names to roles', () => {
    const names = (p: string): string[] => rolesForPath(p).map((r) => r.name);
    expect(names('/etc/kubernetes/pki/etcd/ca.crt')).toEqual(['etcd-ca']);
    expect(names('/etc/kubernetes/pki/ca.crt')).toEqual(['ca', 'hard-way-ca']);
    expect(names('/etc/kubernetes/pki/front-proxy-ca.crt')).toEqual(['front-proxy-ca']);
    expect(names('/etc/kubernetes/pki/etcd/server.crt')).toEqual(['etcd-server']);
    expect(names('C:\\k8s\\pki\\apiserver-etcd-client.crt')).toEqual(['apiserver-etcd-client']);
    expect(names('/etc/kubernetes/admin.conf')).toEqual(['admin.conf']);
    expect(names('/var/lib/kubelet/pki/kubelet-client-2025-01-01-00-00-00.pem')).toEqual(['kubelet-client']);
    expect(names('/root/node-0.crt')).toEqual(['hard-way-node']);
    expect(names('/etc/ssl/server.crt')).toEqual([]);
  });

  it('falls back to the CN, choosing by O, EKU and the CA flag', () => {
    const ca = newCa();
    const node = (eku: string[]) => issue(ca, { subject: 'CN=system:node:w1,O=system:nodes', sans: { dns: ['w1'] }, extKeyUsage: eku });
    expect(detectRole(node(['clientAuth']))?.name).toBe('kubelet-client');
    expect(detectRole(node(['serverAuth']))?.name).toBe('kubelet-serving');
    expect(detectRole(node(['serverAuth', 'clientAuth']))?.name).toBe('hard-way-node');
    expect(detectRole(newCa('CN=kubernetes').cert)?.name).toBe('ca');
    expect(detectRole(issue(ca, { subject: 'CN=kubernetes', sans: { dns: ['kubernetes'] } }))?.name).toBe('hard-way-apiserver');
    // A bare node name says nothing: etcd certificates are only recognised by their path.
    expect(detectRole(issue(ca, { subject: 'CN=cp1', sans: { dns: ['cp1'] } }))).toBeUndefined();
  });

  it("recognises another layout's role by exact CN and O when file names are shared, but not a swapped file", () => {
    const ca = newCa('CN=kubernetes');
    const kubeadmAdmin = issue(ca, { subject: 'O=kubeadm:cluster-admins,CN=kubernetes-admin', sans: {}, extKeyUsage: ['clientAuth'] });
    expect(detectRole(kubeadmAdmin, { path: '/root/certs/admin.crt' })?.name).toBe('admin.conf');
    // Same layout: a kubelet client certificate put where the apiserver's belongs stays an apiserver finding.
    const kubelet = issue(ca, { subject: 'O=system:nodes,CN=system:node:w1', sans: {}, extKeyUsage: ['clientAuth'] });
    expect(detectRole(kubelet, { path: '/etc/kubernetes/pki/apiserver.crt' })?.name).toBe('apiserver');
  });

  it('treats kubeconfig CA data as a CA and ignores the file name for the CAs of a chain file', () => {
    const ca = newCa('CN=kubernetes');
    expect(detectRole(ca.cert, { path: '/etc/kubernetes/admin.conf', location: 'clusters[k].certificate-authority-data' })?.name).toBe(
      'ca',
    );
    expect(detectRole(ca.cert, { path: '/etc/kubernetes/pki/apiserver.crt', multiple: true })?.name).toBe('ca');
  });
});

describe('linting a PKI issued from the role table', () => {
  it('finds nothing wrong with a kubeadm cluster but the keyEncipherment kubeadm sets on ECDSA keys', () => {
    const { targets } = issueProfile(['kubeadm', 'kubelet']);
    const r = lintCertificates(targets, { now: NOW });
    const noisy = r.findings.filter((f) => f.lintId !== 'x509.key-usage.key-encipherment-non-rsa');
    expect(noisy).toEqual([]);
    expect(r.findings.length).toBeGreaterThan(0);
  });

  it('accepts the pre-1.29 system:masters group for admin.conf and apiserver-kubelet-client', () => {
    const ca = newCa('CN=kubernetes');
    const cert = issue(ca, { subject: 'CN=kubernetes-admin,O=system:masters', sans: {}, extKeyUsage: ['clientAuth'] });
    const r = lintCertificates([{ cert, source: '/etc/kubernetes/admin.conf' }], { now: NOW });
    expect(r.findings.filter((f) => f.lintId.startsWith('k8s.'))).toEqual([]);
  });

  it('reports the two Kubernetes the Hard Way typos and nothing else', () => {
    const issuers = new Map<string, IssuerRef>();
    const roles = K8S_ROLE_LIST.filter((r) => r.profile === 'hard-way');
    const targets: LintTarget[] = [];
    for (const role of [...roles.filter((r) => r.ca), ...roles.filter((r) => !r.ca)]) {
      let r = role;
      if (role.name === 'hard-way-scheduler') r = { ...role, o: ['system:system:kube-scheduler'] };
      if (role.name === 'hard-way-apiserver')
        r = {
          ...role,
          sans: [
            '127.0.0.1',
            '10.32.0.1',
            'kubernetes',
            'kubernetes.default',
            'kubernetes.default.svc',
            'kubernetes.default.svc.cluster',
            'kubernetes.svc.cluster.local',
          ],
        };
      targets.push({ cert: issueRole(r, issuers, { ...VARS, nodeName: 'node-0' }), ...pathFor(role) });
    }
    const policy = parsePolicy({ validity: { maxLeafDays: 3653 }, kubernetes: { serviceCIDR: '10.32.0.0/24' } }, 'test');
    const r = lintCertificates(targets, { now: NOW, policy });
    const relevant = r.findings.filter((f) => f.lintId !== 'x509.key-usage.key-encipherment-non-rsa');
    expect(relevant.map((f) => [f.lintId, f.message])).toEqual([
      ['k8s.role.wrong-o', 'hard-way-scheduler certificate has O system:system:kube-scheduler; expected system:kube-scheduler'],
      ['k8s.apiserver.missing-san', 'apiserver certificate lacks DNS:kubernetes.default.svc.cluster.local'],
    ]);
  });

  it('reports a front-proxy client signed by the cluster CA and a kubelet client with the wrong group', () => {
    const ca = newCa('CN=kubernetes');
    const fp = issue(ca, { subject: 'CN=front-proxy-client', sans: {}, extKeyUsage: ['clientAuth'] });
    const kubelet = issue(ca, { subject: 'CN=system:node:w1,O=system:masters', sans: {}, extKeyUsage: ['clientAuth'] });
    const r = lintCertificates(
      [
        { cert: fp, source: '/etc/kubernetes/pki/front-proxy-client.crt' },
        { cert: kubelet, source: '/etc/kubernetes/kubelet.conf', location: 'users[default-auth].client-certificate-data line 1' },
      ],
      { now: NOW },
    );
    const ids = r.findings.map((f) => f.lintId);
    expect(ids).toContain('k8s.role.wrong-signer');
    expect(ids).toContain('k8s.role.kubelet-client-subject');
  });
});
