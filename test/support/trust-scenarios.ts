// The scenario corpus: one small PKI per validation rule, with the verdict and reason code Anchorage
// must give and how openssl relates to it. corpus.test.ts writes each to a folder and runs both.
import type { KeyObject } from 'node:crypto';
import type { ReasonCode } from '../../src/trust/codes.ts';
import type { Profile } from '../../src/trust/profiles.ts';
import { Certificate } from '../../src/x509/certificate.ts';
import { type CreateCrlRequest, createCrl } from '../../src/x509/crl.ts';
import { NULL } from '../../src/x509/der.ts';
import { generateKey } from '../../src/x509/keys.ts';
import type { CrlReason } from '../../src/x509/oids.ts';
import { signTbs, tbsOf } from './der-tree.ts';
import { AT, ca, type Issued, key, leaf } from './trust-fixtures.ts';

export interface Scenario {
  name: string;
  anchors: Certificate[];
  /** Anchors given as bare public keys (openssl cannot express these). */
  anchorKeys?: { publicKey: KeyObject; name?: string }[];
  intermediates: Certificate[];
  leaf: Certificate;
  /** DER CRLs. */
  crls?: Uint8Array[];
  requireCrl?: boolean;
  purpose?: string;
  host?: string;
  at: Date;
  maxDepth?: number;
  /** Anchors are not self-signed: openssl needs -partial_chain to trust them. */
  partialChain?: boolean;
  expect: { trusted: boolean; code?: ReasonCode };
  /** The profile `expect` is for (default 'openssl'). */
  profile?: Profile;
  /** 'same': openssl's verdict must equal ours; 'n/a': openssl cannot express the case; differs: documented in docs/trust.md. */
  openssl: 'same' | 'n/a' | { differs: string };
  /**
   * The 'kubernetes' profile's verdict where it differs from `expect` (the openssl profile's), in the
   * Go comparison's conditions: no CRLs, default maxDepth, every purpose and host as given.
   */
  kubernetes?: { trusted: boolean; code?: ReasonCode };
  /**
   * Go's crypto/x509 (test/go-oracle) against the 'kubernetes' profile: 'same' (default) must agree;
   * 'n/a': Go cannot express the case; differs: a deliberate difference, listed in docs/trust.md.
   */
  go?: 'same' | 'n/a' | { differs: string };
}

const server = (host: string, o: Record<string, unknown> = {}) => ({ extKeyUsage: ['serverAuth'], sans: { dns: [host] }, ...o });
const ok = { trusted: true } as const;
const bad = (code: ReasonCode) => ({ trusted: false, code }) as const;
const DAY = 86400000;

export function buildScenarios(): Scenario[] {
  const out: Scenario[] = [];
  const add = (s: Omit<Scenario, 'at' | 'openssl'> & { at?: Date; openssl?: Scenario['openssl'] }): void => {
    out.push({ at: AT, openssl: 'same', ...s });
  };

  const root = ca('CN=Root CA,O=Acme');
  const int = ca('CN=Issuing CA,O=Acme', root);
  const web = leaf('CN=web.example.com', int, server('web.example.com'));

  // ---- the happy paths ----
  add({
    name: 'valid-server',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: web.cert,
    purpose: 'server',
    host: 'web.example.com',
    expect: ok,
  });
  const kubelet = leaf('CN=system:node:n1,O=system:nodes', int, { extKeyUsage: ['clientAuth'] });
  add({ name: 'valid-client', anchors: [root.cert], intermediates: [int.cert], leaf: kubelet.cert, purpose: 'client', expect: ok });
  const direct = leaf('CN=api.example.com', root, server('api.example.com'));
  add({ name: 'leaf-issued-by-root', anchors: [root.cert], intermediates: [], leaf: direct.cert, purpose: 'server', expect: ok });
  add({ name: 'purpose-any', anchors: [root.cert], intermediates: [int.cert], leaf: kubelet.cert, expect: ok });

  // ---- path building ----
  add({ name: 'issuer-not-found', anchors: [root.cert], intermediates: [], leaf: web.cert, expect: bad('ISSUER_NOT_FOUND') });
  const otherRoot = ca('CN=Other Root');
  add({ name: 'wrong-anchor', anchors: [otherRoot.cert], intermediates: [int.cert], leaf: web.cert, expect: bad('ISSUER_NOT_FOUND') });

  // Same name, other key: a rotated or rogue "CN=kubernetes".
  const k8sOld = ca('CN=kubernetes');
  const k8sNew = ca('CN=kubernetes');
  const apiNew = leaf('CN=kube-apiserver', k8sNew, server('kubernetes.default.svc'));
  add({ name: 'same-name-other-key', anchors: [k8sOld.cert], intermediates: [], leaf: apiNew.cert, expect: bad('NAME_MISMATCH_KEY') });
  const apiNoAki = leaf('CN=kube-apiserver', k8sNew, server('kubernetes.default.svc', { authorityKeyId: false }));
  add({
    name: 'same-name-other-key-no-aki',
    anchors: [k8sOld.cert],
    intermediates: [],
    leaf: apiNoAki.cert,
    expect: bad('NAME_MISMATCH_KEY'),
    // openssl -x509_strict insists on an AKI, so it rejects for another reason: the verdict still agrees.
  });
  add({ name: 'same-name-both-anchors', anchors: [k8sOld.cert, k8sNew.cert], intermediates: [], leaf: apiNew.cert, expect: ok });
  const intA = ca('CN=Shared Name CA', root);
  const intB = ca('CN=Shared Name CA', root);
  const viaB = leaf('CN=b.example.com', intB, server('b.example.com'));
  add({ name: 'same-name-intermediates', anchors: [root.cert], intermediates: [intA.cert, intB.cert], leaf: viaB.cert, expect: ok });

  const forged = leaf('CN=web.example.com', { ...int, key: key().privateKey }, server('web.example.com'));
  add({ name: 'signature-invalid', anchors: [root.cert], intermediates: [int.cert], leaf: forged.cert, expect: bad('SIGNATURE_INVALID') });

  // Cross-signing: the same intermediate (subject + key) certified by two roots.
  const rootOld = ca('CN=Old Root', undefined, { notAfter: new Date(AT.getTime() + 30 * DAY) });
  const rootNew = ca('CN=New Root');
  const midPair = key();
  const midExpired = ca('CN=Cross CA', rootOld, { pair: midPair, notAfter: new Date(AT.getTime() - DAY) });
  const midCross = ca('CN=Cross CA', rootNew, { pair: midPair });
  const crossLeaf = leaf('CN=x.example.com', { ...midCross, key: midPair.privateKey }, server('x.example.com'));
  add({
    name: 'expired-intermediate-valid-cross-signed',
    anchors: [rootOld.cert, rootNew.cert],
    intermediates: [midExpired.cert, midCross.cert],
    leaf: crossLeaf.cert,
    purpose: 'server',
    expect: ok,
  });
  add({
    name: 'expired-intermediate',
    anchors: [rootOld.cert],
    intermediates: [midExpired.cert],
    leaf: crossLeaf.cert,
    expect: bad('EXPIRED'),
  });
  // A new root cross-signed by the old one: old-root clients still reach it.
  const rootNewByOld = ca('CN=New Root', rootOld, { pair: rootNew.pair });
  const underNew = ca('CN=Under New Root', rootNew);
  const underNewLeaf = leaf('CN=n.example.com', underNew, server('n.example.com'));
  add({
    name: 'cross-signed-root',
    anchors: [rootOld.cert],
    intermediates: [underNew.cert, rootNewByOld.cert],
    leaf: underNewLeaf.cert,
    expect: ok,
  });

  // Loop: two CAs that certify each other, and no anchor above them.
  const kA = key();
  const kB = key();
  const seedB = ca('CN=Loop B', undefined, { pair: kB });
  const loopA = ca('CN=Loop A', seedB, { pair: kA });
  const loopB = ca('CN=Loop B', { ...loopA, key: kA.privateKey }, { pair: kB });
  const loopLeaf = leaf('CN=loop.example.com', loopA, server('loop.example.com'));
  add({ name: 'loop', anchors: [otherRoot.cert], intermediates: [loopA.cert, loopB.cert], leaf: loopLeaf.cert, expect: bad('LOOP') });

  const d1 = ca('CN=Depth 1', root);
  const d2 = ca('CN=Depth 2', d1);
  const d3 = ca('CN=Depth 3', d2);
  const deep = leaf('CN=deep.example.com', d3, server('deep.example.com'));
  add({
    name: 'depth-exceeded',
    kubernetes: ok,
    anchors: [root.cert],
    intermediates: [d1.cert, d2.cert, d3.cert],
    leaf: deep.cert,
    maxDepth: 2,
    expect: bad('DEPTH_EXCEEDED'),
  });
  add({
    name: 'depth-at-limit',
    anchors: [root.cert],
    intermediates: [d1.cert, d2.cert, d3.cert],
    leaf: deep.cert,
    maxDepth: 3,
    expect: ok,
  });

  // A self-signed root that arrives in the untrusted pool is not an anchor.
  add({
    name: 'untrusted-root',
    anchors: [otherRoot.cert],
    intermediates: [int.cert, root.cert],
    leaf: web.cert,
    expect: bad('UNTRUSTED_ROOT'),
  });

  // ---- validity ----
  const expiredLeaf = leaf('CN=old.example.com', int, server('old.example.com', { notAfter: new Date(AT.getTime() - DAY) }));
  add({ name: 'expired-leaf', anchors: [root.cert], intermediates: [int.cert], leaf: expiredLeaf.cert, expect: bad('EXPIRED') });
  const futureLeaf = leaf('CN=new.example.com', int, server('new.example.com', { notBefore: new Date(AT.getTime() + DAY) }));
  add({ name: 'not-yet-valid', anchors: [root.cert], intermediates: [int.cert], leaf: futureLeaf.cert, expect: bad('NOT_YET_VALID') });
  add({
    name: 'valid-at-earlier-time',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: expiredLeaf.cert,
    at: new Date(AT.getTime() - 30 * DAY),
    expect: ok,
  });
  const expiredRoot = ca('CN=Expired Root', undefined, { notAfter: new Date(AT.getTime() - DAY) });
  const underExpired = leaf('CN=e.example.com', expiredRoot, server('e.example.com'));
  add({ name: 'expired-anchor', anchors: [expiredRoot.cert], intermediates: [], leaf: underExpired.cert, expect: bad('EXPIRED') });

  // ---- basic constraints and key usage ----
  const strictRoot = ca('CN=PathLen 0 Root', undefined, { pathLen: 0 });
  const strictInt = ca('CN=Below PathLen 0', strictRoot);
  const strictLeaf = leaf('CN=p.example.com', strictInt, server('p.example.com'));
  add({
    name: 'pathlen-exceeded',
    anchors: [strictRoot.cert],
    intermediates: [strictInt.cert],
    leaf: strictLeaf.cert,
    expect: bad('PATH_LEN_EXCEEDED'),
  });
  const pl0 = ca('CN=Int PathLen 0', root, { pathLen: 0 });
  const pl0sub = ca('CN=Sub of PathLen 0', pl0);
  const pl0leaf = leaf('CN=q.example.com', pl0sub, server('q.example.com'));
  add({
    name: 'pathlen-exceeded-intermediate',
    anchors: [root.cert],
    intermediates: [pl0.cert, pl0sub.cert],
    leaf: pl0leaf.cert,
    expect: bad('PATH_LEN_EXCEEDED'),
  });
  const pl1 = ca('CN=PathLen 1 Root', undefined, { pathLen: 1 });
  const pl1int = ca('CN=Below PathLen 1', pl1, { pathLen: 0 });
  const pl1leaf = leaf('CN=r.example.com', pl1int, server('r.example.com'));
  add({ name: 'pathlen-ok', anchors: [pl1.cert], intermediates: [pl1int.cert], leaf: pl1leaf.cert, expect: ok });

  const notCa = ca('CN=Not A CA', root, { ca: false, keyUsage: ['keyCertSign', 'cRLSign'] });
  const underNotCa = leaf('CN=s.example.com', notCa, server('s.example.com'));
  add({ name: 'intermediate-not-ca', anchors: [root.cert], intermediates: [notCa.cert], leaf: underNotCa.cert, expect: bad('NOT_A_CA') });
  // A TLS server certificate used to sign another certificate.
  const byLeaf = leaf('CN=t.example.com', web, server('t.example.com'));
  add({
    name: 'leaf-used-as-issuer',
    anchors: [root.cert],
    intermediates: [int.cert, web.cert],
    leaf: byLeaf.cert,
    expect: bad('NOT_A_CA'),
  });
  const noCertSign = ca('CN=No CertSign CA', root, { keyUsage: ['digitalSignature', 'cRLSign'] });
  const underNoCertSign = leaf('CN=u.example.com', noCertSign, server('u.example.com'));
  add({
    name: 'missing-key-cert-sign',
    anchors: [root.cert],
    intermediates: [noCertSign.cert],
    leaf: underNoCertSign.cert,
    expect: bad('MISSING_KEY_CERT_SIGN'),
  });

  // ---- extended key usage ----
  add({
    name: 'eku-mismatch-leaf',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: kubelet.cert,
    purpose: 'server',
    expect: bad('EKU_MISMATCH'),
  });
  add({
    name: 'eku-server-as-client',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: web.cert,
    purpose: 'client',
    expect: bad('EKU_MISMATCH'),
  });
  const clientOnlyInt = ca('CN=Client-only CA', root, { extKeyUsage: ['clientAuth'] });
  const serverUnderClientInt = leaf('CN=v.example.com', clientOnlyInt, server('v.example.com'));
  add({
    name: 'eku-mismatch-intermediate',
    anchors: [root.cert],
    intermediates: [clientOnlyInt.cert],
    leaf: serverUnderClientInt.cert,
    purpose: 'server',
    expect: bad('EKU_MISMATCH'),
  });
  const serverInt = ca('CN=Server CA', root, { extKeyUsage: ['serverAuth', 'clientAuth'] });
  const underServerInt = leaf('CN=w.example.com', serverInt, server('w.example.com'));
  add({
    name: 'eku-intermediate-allows',
    anchors: [root.cert],
    intermediates: [serverInt.cert],
    leaf: underServerInt.cert,
    purpose: 'server',
    expect: ok,
  });
  const anyInt = ca('CN=AnyEKU CA', root, { extKeyUsage: ['anyExtendedKeyUsage'] });
  const underAnyInt = leaf('CN=y.example.com', anyInt, server('y.example.com'));
  add({
    name: 'eku-intermediate-any',
    anchors: [root.cert],
    intermediates: [anyInt.cert],
    leaf: underAnyInt.cert,
    purpose: 'server',
    expect: ok,
    openssl: { differs: 'openssl does not let anyExtendedKeyUsage on a CA stand for serverAuth; Go and Anchorage do' },
  });
  const noEku = leaf('CN=z.example.com', int, { sans: { dns: ['z.example.com'] } });
  add({ name: 'eku-absent-leaf', anchors: [root.cert], intermediates: [int.cert], leaf: noEku.cert, purpose: 'server', expect: ok });
  const codeSigner = leaf('CN=Code Signer', int, { keyUsage: ['digitalSignature'], extKeyUsage: ['codeSigning'] });
  add({
    name: 'eku-oid-purpose',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: codeSigner.cert,
    purpose: '1.3.6.1.5.5.7.3.3',
    expect: ok,
    openssl: 'n/a',
  });
  add({
    name: 'eku-oid-purpose-mismatch',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: web.cert,
    purpose: '1.3.6.1.5.5.7.3.3',
    expect: bad('EKU_MISMATCH'),
    openssl: 'n/a',
  });
  const kuBad = leaf('CN=ku.example.com', int, server('ku.example.com', { keyUsage: ['cRLSign'] }));
  add({
    name: 'key-usage-mismatch',
    kubernetes: ok,
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: kuBad.cert,
    purpose: 'server',
    expect: bad('KEY_USAGE_MISMATCH'),
  });

  // ---- name constraints ----
  const ncRoot = ca('CN=Constrained Root,O=Acme', undefined, {
    nameConstraints: { permitted: { dns: ['example.com'], ip: ['10.0.0.0/8'], uri: ['.cluster.local'], email: ['example.com'] } },
  });
  const ncInt = ca('CN=Constrained Issuing CA,O=Acme', ncRoot);
  const inside = leaf('CN=in.example.com', ncInt, server('in.example.com', { sans: { dns: ['in.example.com'], ip: ['10.1.2.3'] } }));
  add({ name: 'nc-permitted-ok', anchors: [ncRoot.cert], intermediates: [ncInt.cert], leaf: inside.cert, purpose: 'server', expect: ok });
  const outsideDns = leaf('CN=evil.test', ncInt, server('evil.test'));
  add({
    name: 'nc-dns-through-intermediate',
    anchors: [ncRoot.cert],
    intermediates: [ncInt.cert],
    leaf: outsideDns.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });
  const outsideIp = leaf('CN=ip.example.com', ncInt, server('ip.example.com', { sans: { dns: ['ip.example.com'], ip: ['192.168.1.1'] } }));
  add({
    name: 'nc-ip',
    anchors: [ncRoot.cert],
    intermediates: [ncInt.cert],
    leaf: outsideIp.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });
  const outsideUri = leaf('CN=uri.example.com', ncInt, { extKeyUsage: ['clientAuth'], sans: { uri: ['spiffe://evil.test/ns/x/sa/y'] } });
  add({
    name: 'nc-uri',
    anchors: [ncRoot.cert],
    intermediates: [ncInt.cert],
    leaf: outsideUri.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });
  const insideUri = leaf('CN=spiffe-ok', ncInt, { extKeyUsage: ['clientAuth'], sans: { uri: ['spiffe://prod.cluster.local/ns/x/sa/y'] } });
  add({ name: 'nc-uri-ok', anchors: [ncRoot.cert], intermediates: [ncInt.cert], leaf: insideUri.cert, expect: ok });
  const outsideEmail = leaf('CN=mail', ncInt, { extKeyUsage: ['clientAuth'], sans: { email: ['bob@evil.test'] } });
  add({
    name: 'nc-email',
    anchors: [ncRoot.cert],
    intermediates: [ncInt.cert],
    leaf: outsideEmail.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });
  const cnOnly = leaf('CN=cn.evil.test', ncInt, { extKeyUsage: ['serverAuth'] });
  add({
    name: 'nc-cn-without-san',
    kubernetes: ok,
    anchors: [ncRoot.cert],
    intermediates: [ncInt.cert],
    leaf: cnOnly.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });
  const exRoot = ca('CN=Excluding Root', undefined, {
    nameConstraints: { excluded: { dns: ['internal.example.com'], ip: ['192.168.0.0/16'] } },
  });
  const exInt = ca('CN=Excluding Issuing CA', exRoot);
  const excludedDns = leaf('CN=db.internal.example.com', exInt, server('db.internal.example.com'));
  add({
    name: 'nc-excluded-dns',
    anchors: [exRoot.cert],
    intermediates: [exInt.cert],
    leaf: excludedDns.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });
  const excludedIp = leaf('CN=ok.example.com', exInt, server('ok.example.com', { sans: { dns: ['ok.example.com'], ip: ['192.168.5.5'] } }));
  add({
    name: 'nc-excluded-ip',
    anchors: [exRoot.cert],
    intermediates: [exInt.cert],
    leaf: excludedIp.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });
  const notExcluded = leaf('CN=pub.example.com', exInt, server('pub.example.com'));
  add({ name: 'nc-excluded-ok', anchors: [exRoot.cert], intermediates: [exInt.cert], leaf: notExcluded.cert, expect: ok });
  const dnRoot = ca('CN=DN Root', undefined, { nameConstraints: { permitted: { directory: ['O=Acme'] } } });
  const dnInt = ca('CN=DN Issuing,O=Acme', dnRoot);
  const dnBad = leaf('CN=svc,O=Other', dnInt, { extKeyUsage: ['clientAuth'] });
  add({
    name: 'nc-directory',
    kubernetes: bad('UNKNOWN_CRITICAL_EXTENSION'),
    anchors: [dnRoot.cert],
    intermediates: [dnInt.cert],
    leaf: dnBad.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });
  const dnGood = leaf('CN=svc,O=Acme', dnInt, { extKeyUsage: ['clientAuth'] });
  add({
    name: 'nc-directory-ok',
    kubernetes: bad('UNKNOWN_CRITICAL_EXTENSION'),
    anchors: [dnRoot.cert],
    intermediates: [dnInt.cert],
    leaf: dnGood.cert,
    expect: ok,
  });
  // Constraints on an intermediate bind the leaf too (not only the anchor's).
  const ncMid = ca('CN=Team CA,O=Acme', root, { nameConstraints: { permitted: { dns: ['team.example.com'] } } });
  const teamBad = leaf('CN=other.example.com', ncMid, server('other.example.com'));
  add({
    name: 'nc-on-intermediate',
    anchors: [root.cert],
    intermediates: [ncMid.cert],
    leaf: teamBad.cert,
    expect: bad('NAME_CONSTRAINT_VIOLATION'),
  });

  // ---- host matching ----
  const multi = leaf(
    'CN=multi',
    int,
    server('api.example.com', { sans: { dns: ['api.example.com', '*.apps.example.com'], ip: ['10.0.0.1', '2001:db8::1'] } }),
  );
  const base = { anchors: [root.cert], intermediates: [int.cert], leaf: multi.cert, purpose: 'server' };
  add({ name: 'host-dns', ...base, host: 'api.example.com', expect: ok });
  add({ name: 'host-dns-case', ...base, host: 'API.Example.COM', expect: ok });
  add({ name: 'host-wildcard', ...base, host: 'shop.apps.example.com', expect: ok });
  add({ name: 'host-wildcard-one-label', ...base, host: 'a.b.apps.example.com', expect: bad('HOST_MISMATCH') });
  add({ name: 'host-wildcard-not-apex', ...base, host: 'apps.example.com', expect: bad('HOST_MISMATCH') });
  add({ name: 'host-mismatch', ...base, host: 'other.example.com', expect: bad('HOST_MISMATCH') });
  add({ name: 'host-ipv4', ...base, host: '10.0.0.1', expect: ok });
  add({ name: 'host-ipv6', ...base, host: '2001:db8:0:0::1', expect: ok });
  add({ name: 'host-ip-mismatch', ...base, host: '10.0.0.2', expect: bad('HOST_MISMATCH') });
  add({ name: 'host-ip-not-dns', ...base, host: '10.0.0.1', leaf: web.cert, expect: bad('HOST_MISMATCH') });
  add({
    name: 'host-uri-ok',
    go: { differs: 'Go matches only DNS names and IP addresses; Anchorage also matches URI SANs (SPIFFE IDs)' },
    anchors: [ncRoot.cert],
    intermediates: [ncInt.cert],
    leaf: insideUri.cert,
    host: 'spiffe://prod.cluster.local/ns/x/sa/y',
    expect: ok,
    openssl: 'n/a',
  });
  add({
    name: 'host-uri-mismatch',
    anchors: [ncRoot.cert],
    intermediates: [ncInt.cert],
    leaf: insideUri.cert,
    host: 'spiffe://prod.cluster.local/ns/x/sa/z',
    expect: bad('HOST_MISMATCH'),
    openssl: 'n/a',
  });
  const cnHost = leaf('CN=legacy.example.com', int, { extKeyUsage: ['serverAuth'] });
  add({
    name: 'host-cn-fallback',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: cnHost.cert,
    host: 'legacy.example.com',
    expect: bad('HOST_MISMATCH'),
    openssl: {
      differs: 'openssl falls back to the subject CN when there are no DNS SANs; Go (since 1.15), Kubernetes and Anchorage do not',
    },
  });

  // ---- unknown critical extensions ----
  const weird = { extraExtensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: true, value: NULL }] };
  const critLeaf = leaf('CN=crit.example.com', int, server('crit.example.com', weird));
  add({
    name: 'unknown-critical-leaf',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: critLeaf.cert,
    expect: bad('UNKNOWN_CRITICAL_EXTENSION'),
  });
  const critInt = ca('CN=Critical Ext CA', root, weird);
  const underCritInt = leaf('CN=c2.example.com', critInt, server('c2.example.com'));
  add({
    name: 'unknown-critical-intermediate',
    anchors: [root.cert],
    intermediates: [critInt.cert],
    leaf: underCritInt.cert,
    expect: bad('UNKNOWN_CRITICAL_EXTENSION'),
  });
  const nonCritLeaf = leaf(
    'CN=nc.example.com',
    int,
    server('nc.example.com', { extraExtensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: false, value: NULL }] }),
  );
  add({ name: 'unknown-noncritical-ok', anchors: [root.cert], intermediates: [int.cert], leaf: nonCritLeaf.cert, expect: ok });

  // ---- anchors ----
  add({
    name: 'anchor-bare-key',
    go: 'n/a',
    anchors: [],
    anchorKeys: [{ publicKey: root.pair.publicKey }],
    intermediates: [int.cert],
    leaf: web.cert,
    expect: ok,
    openssl: 'n/a',
  });
  add({
    name: 'anchor-bare-key-named',
    go: 'n/a',
    anchors: [],
    anchorKeys: [{ publicKey: root.pair.publicKey, name: 'CN=Root CA,O=Acme' }],
    intermediates: [int.cert],
    leaf: web.cert,
    expect: ok,
    openssl: 'n/a',
  });
  add({
    name: 'anchor-bare-key-other',
    go: 'n/a',
    anchors: [],
    anchorKeys: [{ publicKey: otherRoot.pair.publicKey }],
    intermediates: [int.cert],
    leaf: web.cert,
    expect: bad('ISSUER_NOT_FOUND'),
    openssl: 'n/a',
  });
  add({
    name: 'anchor-bare-key-same-name-other-key',
    go: 'n/a',
    anchors: [],
    anchorKeys: [{ publicKey: otherRoot.pair.publicKey, name: 'CN=Root CA,O=Acme' }],
    intermediates: [int.cert],
    leaf: web.cert,
    expect: bad('NAME_MISMATCH_KEY'),
    openssl: 'n/a',
  });
  const pinned = leaf('CN=pinned.example.com', undefined, server('pinned.example.com'));
  add({
    name: 'leaf-is-anchor',
    anchors: [pinned.cert],
    intermediates: [],
    leaf: pinned.cert,
    purpose: 'server',
    host: 'pinned.example.com',
    expect: ok,
  });
  add({
    name: 'leaf-is-anchor-expired',
    anchors: [pinned.cert],
    intermediates: [],
    leaf: pinned.cert,
    at: new Date('2031-01-01T00:00:00Z'),
    expect: bad('EXPIRED'),
  });
  add({ name: 'anchor-intermediate', anchors: [int.cert], intermediates: [], leaf: web.cert, partialChain: true, expect: ok });

  // ---- where openssl -x509_strict is stricter than the RFC 5280 algorithm, or commits to one path ----
  const noKuCa = ca('CN=No KeyUsage CA', root, { keyUsage: [] });
  const underNoKu = leaf('CN=noku.example.com', noKuCa, server('noku.example.com'));
  add({
    name: 'ca-without-key-usage',
    anchors: [root.cert],
    intermediates: [noKuCa.cert],
    leaf: underNoKu.cert,
    expect: ok,
    openssl: { differs: 'RFC 5280 checks keyCertSign only when keyUsage is present; openssl -x509_strict demands keyUsage on every CA' },
  });
  const noAkiLeaf = leaf('CN=noaki.example.com', int, server('noaki.example.com', { authorityKeyId: false }));
  add({
    name: 'leaf-without-aki',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: noAkiLeaf.cert,
    expect: ok,
    openssl: {
      differs:
        'a missing authorityKeyIdentifier is a profile fault (the lint engine reports it), not a validation failure; openssl -x509_strict rejects it',
    },
  });
  // Two certificates for one CA (same name and key): the first in the pool is client-only, the second unrestricted.
  const twoPair = key();
  const restricted = ca('CN=Twice Issued CA', root, { pair: twoPair, extKeyUsage: ['clientAuth'] });
  const unrestricted = ca('CN=Twice Issued CA', root, { pair: twoPair });
  const underTwice = leaf('CN=twice.example.com', restricted, server('twice.example.com'));
  add({
    name: 'alternative-path-past-a-failing-one',
    anchors: [root.cert],
    intermediates: [restricted.cert, unrestricted.cert],
    leaf: underTwice.cert,
    purpose: 'server',
    expect: ok,
    openssl: {
      differs:
        'openssl commits to the first suitable issuer at each step; Anchorage tries every candidate and keeps the one that validates',
    },
  });

  // ---- revocation: openssl -crl_check_all wants a CRL from every CA, so these cases supply them all ----
  const crlOf = (by: Issued, entries: CreateCrlRequest['entries'] = [], o: Partial<CreateCrlRequest> = {}): Uint8Array =>
    createCrl({
      issuer: by,
      entries,
      thisUpdate: new Date(AT.getTime() - DAY),
      nextUpdate: new Date(AT.getTime() + 7 * DAY),
      crlNumber: 1,
      ...o,
    }).der;
  const revoke = (c: Issued, reason: CrlReason = 'keyCompromise') => [
    { serial: c.cert.serialBytes, revokedAt: new Date(AT.getTime() - 2 * DAY), reason },
  ];
  const chainFiles = { anchors: [root.cert], intermediates: [int.cert], leaf: web.cert, requireCrl: true };
  add({ name: 'crl-not-revoked', ...chainFiles, crls: [crlOf(root), crlOf(int)], expect: ok });
  add({ name: 'crl-revoked-leaf', ...chainFiles, crls: [crlOf(root), crlOf(int, revoke(web))], expect: bad('REVOKED') });
  add({
    name: 'crl-revoked-intermediate',
    ...chainFiles,
    crls: [crlOf(root, revoke(int, 'cACompromise')), crlOf(int)],
    expect: bad('REVOKED'),
  });
  add({ name: 'crl-on-hold', ...chainFiles, crls: [crlOf(root), crlOf(int, revoke(web, 'certificateHold'))], expect: bad('REVOKED') });
  add({
    name: 'crl-expired',
    ...chainFiles,
    crls: [crlOf(root), crlOf(int, [], { thisUpdate: new Date(AT.getTime() - 10 * DAY), nextUpdate: new Date(AT.getTime() - DAY) })],
    expect: bad('CRL_EXPIRED'),
  });
  add({
    name: 'crl-not-yet-valid',
    ...chainFiles,
    crls: [crlOf(root), crlOf(int, [], { thisUpdate: new Date(AT.getTime() + DAY), nextUpdate: new Date(AT.getTime() + 8 * DAY) })],
    expect: bad('CRL_NOT_YET_VALID'),
  });
  const impostor = ca('CN=Issuing CA,O=Acme', otherRoot);
  add({ name: 'crl-signature-invalid', ...chainFiles, crls: [crlOf(root), crlOf(impostor)], expect: bad('CRL_SIGNATURE_INVALID') });
  add({ name: 'crl-missing', ...chainFiles, crls: [crlOf(root)], expect: bad('CRL_MISSING') });
  add({
    name: 'crl-if-present',
    ...chainFiles,
    requireCrl: false,
    crls: [crlOf(int)],
    expect: ok,
    openssl: {
      differs:
        "the default 'if-present' policy skips certificates whose issuer sent no CRL; openssl -crl_check_all (like revocation 'require') rejects",
    },
  });
  add({
    name: 'crl-newest-wins',
    ...chainFiles,
    crls: [
      crlOf(root),
      crlOf(int, revoke(web, 'certificateHold'), { thisUpdate: new Date(AT.getTime() - 3 * DAY) }),
      crlOf(int, [], { crlNumber: 2 }),
    ],
    expect: ok,
  });
  const critical = [{ oid: '1.3.6.1.4.1.99999.2', critical: true, value: NULL }];
  add({
    name: 'crl-unknown-critical',
    ...chainFiles,
    crls: [crlOf(root), crlOf(int, [], { extraExtensions: critical })],
    expect: bad('CRL_UNKNOWN_CRITICAL_EXTENSION'),
  });
  // The CA lacks cRLSign; its twin (same name and key, with cRLSign) wrote the CRL.
  const noCrlSign = ca('CN=No CRLSign CA', root, { keyUsage: ['keyCertSign'] });
  const twin = ca('CN=No CRLSign CA', root, { pair: noCrlSign.pair });
  const underNoCrlSign = leaf('CN=nocrl.example.com', noCrlSign, server('nocrl.example.com'));
  add({
    name: 'crl-issuer-without-crl-sign',
    anchors: [root.cert],
    intermediates: [noCrlSign.cert],
    leaf: underNoCrlSign.cert,
    requireCrl: true,
    crls: [crlOf(root), crlOf(twin)],
    expect: bad('CRL_MISSING_CRL_SIGN'),
  });
  // ---- profiles: what Go-based clients refuse and OpenSSL-based ones accept, and the strict rules ----
  const resign = (c: Certificate, by: Issued, alg: Parameters<typeof signTbs>[1], pad = false): Certificate => {
    const t = tbsOf(c.der);
    if (pad) t.padLength = 1;
    return new Certificate(signTbs(t, alg, by.key));
  };
  const sha1Leaf = resign(leaf('CN=sha1.example.com', int, server('sha1.example.com')).cert, int, 'ecdsa-sha1');
  const sha1Case = { anchors: [root.cert], intermediates: [int.cert], leaf: sha1Leaf, purpose: 'server' };
  add({
    name: 'sha1-signature-kubernetes',
    ...sha1Case,
    profile: 'kubernetes',
    expect: bad('INSECURE_SIGNATURE_ALGORITHM'),
    openssl: { differs: 'Go refuses SHA-1 signatures (Kubernetes cannot use the certificate); openssl accepts them' },
  });
  add({ name: 'sha1-signature-openssl', ...sha1Case, expect: ok, kubernetes: bad('INSECURE_SIGNATURE_ALGORITHM') });
  const paddedLeaf = resign(leaf('CN=ber.example.com', int, server('ber.example.com')).cert, int, 'ecdsa-sha256', true);
  const berCase = { anchors: [root.cert], intermediates: [int.cert], leaf: paddedLeaf, purpose: 'server' };
  add({
    name: 'non-der-length-kubernetes',
    ...berCase,
    profile: 'kubernetes',
    expect: bad('MALFORMED_CERTIFICATE'),
    openssl: { differs: "Go's parser refuses a non-minimal length (BER, not DER); openssl reads it" },
  });
  add({ name: 'non-der-length-openssl', ...berCase, expect: ok, kubernetes: bad('MALFORMED_CERTIFICATE') });
  const rsaRoot = ca('CN=RSA Root', undefined, { pair: generateKey('rsa-2048') });
  const pssMgf1 = resign(leaf('CN=pss.example.com', rsaRoot, server('pss.example.com')).cert, rsaRoot, {
    pss: { hash: 'sha256', mgf1Hash: 'sha1', saltLength: 32 },
  });
  const pssCase = { anchors: [rsaRoot.cert], intermediates: [], leaf: pssMgf1, purpose: 'server' };
  add({ name: 'pss-mgf1-sha1-openssl', ...pssCase, expect: ok, kubernetes: bad('UNSUPPORTED_SIGNATURE_ALGORITHM') });
  add({
    name: 'pss-mgf1-sha1-kubernetes',
    ...pssCase,
    profile: 'kubernetes',
    expect: bad('UNSUPPORTED_SIGNATURE_ALGORITHM'),
    openssl: { differs: 'Go accepts RSA-PSS only with MGF1 of the message hash; openssl verifies any MGF1 hash' },
  });
  const pssGo = resign(leaf('CN=pss2.example.com', rsaRoot, server('pss2.example.com')).cert, rsaRoot, {
    pss: { hash: 'sha384', mgf1Hash: 'sha384', saltLength: 48 },
  });
  add({ name: 'pss-sha384', anchors: [rsaRoot.cert], intermediates: [], leaf: pssGo, purpose: 'server', expect: ok });
  add({
    name: 'strict-leaf-without-aki',
    anchors: [root.cert],
    intermediates: [int.cert],
    leaf: noAkiLeaf.cert,
    profile: 'strict',
    expect: bad('PROFILE_VIOLATION'),
    kubernetes: ok,
  });

  // Go does no revocation checking: the Go comparison runs these chains without their CRLs.
  for (const sc of out) if (sc.crls?.length && !sc.expect.trusted) sc.kubernetes ??= ok;
  return out;
}

export type { Issued };
