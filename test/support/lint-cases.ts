// For every lint in the catalog, a certificate set that makes it fire and one that keeps it quiet: the
// catalog test runs them, and the zlint agreement test (test/zlint/) uses them as its generated corpus.
import { generateKeyPairSync } from 'node:crypto';
import type { LintTarget } from '../../src/lint/engine.ts';
import { type Policy, parsePolicy } from '../../src/lint/policy.ts';
import type { IssuerRef } from '../../src/x509/build.ts';
import type { Certificate } from '../../src/x509/certificate.ts';
import { bitString, bool, integer, NULL, namedBits, octetString, oid, seq, TAG, time, tlv } from '../../src/x509/der.ts';
import { encodeAki, encodeBasicConstraints, encodeSans } from '../../src/x509/extensions.ts';
import { generateKey, type KeyPair } from '../../src/x509/keys.ts';
import { type KeyUsage, OID } from '../../src/x509/oids.ts';
import { appendRawExtension, DAY, fermatModulus, issue, NOW, newCa, randomOdd, rebuild, rocaModulus, rsaSpki } from './lint-testkit.ts';

export interface Fixture {
  targets: LintTarget[];
  now?: Date;
  policy?: Policy;
}
export type Make = () => Fixture;

const ca = newCa();
const k8sCa = newCa('CN=kubernetes');
const frontProxyCa = newCa('CN=front-proxy-ca');
const etcdCa = newCa('CN=etcd-ca');
const rsaPair: KeyPair = generateKey('rsa-2048');

const one = (cert: Certificate, source?: string): Fixture => ({ targets: [source === undefined ? { cert } : { cert, source }] });
const pair = (issuer: IssuerRef, leaf: Certificate): Fixture => ({ targets: [{ cert: issuer.cert }, { cert: leaf }] });
const leaf = (p: Parameters<typeof issue>[1] = {}, o: Parameters<typeof issue>[2] = {}): Certificate => issue(ca, p, o);
const good: Make = () => one(leaf());
const policy = (data: unknown): Policy => parsePolicy(data, 'test policy');
const ext = (o: string, critical: boolean, value: Uint8Array) => ({ oid: o, critical, value });
const at = (days: number): Date => new Date(NOW.getTime() + days * DAY);
const rsaLeaf = (n: bigint, e = 65537n): Certificate => leaf({}, { publicKey: rsaSpki(n, e) });
const goodRsa: Make = () => one(leaf({}, { key: rsaPair }));
const caCert = (extra: Parameters<typeof newCa>[1]) => newCa('CN=Some CA', extra).cert;

/** A CA-like issuer built from a profile, and a leaf it signs: the set shows it acts as a CA. */
function issuingSet(profile: Parameters<typeof issue>[1]): Fixture {
  const pairKey = generateKey('ecdsa-p256');
  const cert = issue(null, { subject: 'CN=Shadow CA', sans: {}, extKeyUsage: [], validity: { days: 365 }, ...profile }, { key: pairKey });
  const ref = { cert, key: pairKey.privateKey };
  return pair(ref, issue(ref));
}

/** RSA public numbers of a real key, for SubjectPublicKeyInfo surgery. */
function rsaNumbers(k: KeyPair): { n: bigint; e: bigint } {
  const jwk = k.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const big = (b64: string): bigint => BigInt(`0x${Buffer.from(b64, 'base64url').toString('hex')}`);
  return { n: big(jwk.n), e: big(jwk.e) };
}
const rawKu = (...bytes: number[]) => ext(OID.keyUsage, true, Uint8Array.from(bytes));
const ncValue = (...subtreeExtras: Uint8Array[]) => seq(tlv(0xa0, seq(tlv(0x82, Buffer.from('example.com')), ...subtreeExtras)));
const ncCa = (critical: boolean, value: Uint8Array) => caCert({ extraExtensions: [ext(OID.nameConstraints, critical, value)] });
const rsaCa = (ku: KeyUsage[]) =>
  issue(null, { subject: 'CN=RSA CA', ca: true, keyUsage: ku, sans: {}, extKeyUsage: [], validity: { days: 3650 } }, { key: rsaPair });

const kubeadmApiserverSans = {
  dns: ['cp1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
  ip: ['10.96.0.1', '192.168.1.10'],
};
const clientProfile = (subject: string) => ({ subject, sans: {}, extKeyUsage: ['clientAuth'] });

export const CASES: Record<string, { fire: Make; quiet: Make }> = {
  // ---- validity ----
  'x509.validity.expired': {
    fire: () => one(leaf({ validity: { notBefore: at(-100), notAfter: at(-1) } })),
    quiet: good,
  },
  'x509.validity.expiring-critical': {
    fire: () => one(leaf({ validity: { notBefore: at(-300), notAfter: at(5) } })),
    quiet: good,
  },
  'x509.validity.expiring-soon': {
    fire: () => one(leaf({ validity: { notBefore: at(-300), notAfter: at(20) } })),
    quiet: () => one(leaf({ validity: { notBefore: at(-300), notAfter: at(60) } })),
  },
  'x509.validity.not-yet-valid': {
    fire: () => one(leaf({ validity: { notBefore: at(1), notAfter: at(30) } })),
    quiet: good,
  },
  'x509.validity.too-long': {
    fire: () => one(leaf({ validity: { days: 500 } })),
    quiet: () => one(leaf({ validity: { days: 365 } })),
  },
  'x509.validity.backdated': {
    fire: () => pair(ca, leaf({ validity: { notBefore: at(-10), notAfter: at(30) } })),
    quiet: () => pair(ca, leaf()),
  },
  'x509.validity.outlives-issuer': {
    fire: () => pair(ca, leaf({ validity: { days: 4000 } })),
    quiet: () => pair(ca, leaf()),
  },

  // ---- structure ----
  'x509.der.malformed': {
    // Subject SEQUENCE { SET { SEQUENCE of length 5 with 1 byte left } }
    fire: () =>
      one(rebuild(leaf(), ca.key, (f) => f.map((x, i) => (i === 5 ? Uint8Array.of(0x30, 0x05, 0x31, 0x03, 0x30, 0x05, 0x06) : x)))),
    quiet: good,
  },
  'x509.serial.not-positive': { fire: () => one(leaf({ serial: -5n })), quiet: good },
  'x509.serial.too-long': {
    fire: () => one(leaf({ serial: Uint8Array.from({ length: 21 }, (_, i) => (i === 0 ? 0x40 : i)) })),
    quiet: () => one(leaf({ serial: Uint8Array.from({ length: 20 }, (_, i) => (i === 0 ? 0x40 : i)) })),
  },
  'x509.validity.not-positive': {
    fire: () => one(rebuild(leaf(), ca.key, (f) => f.map((x, i) => (i === 4 ? seq(time(NOW), time(at(-1))) : x)))),
    quiet: good,
  },
  'x509.validity.wrong-time-type': {
    fire: () =>
      one(
        rebuild(leaf(), ca.key, (f) =>
          f.map((x, i) => (i === 4 ? seq(tlv(TAG.GENERALIZED_TIME, Buffer.from('20260101000000Z')), time(at(30))) : x)),
        ),
      ),
    // 2055 is GeneralizedTime: the builder switches types at 2050 as it must.
    quiet: () => one(leaf({ validity: { notAfter: new Date('2055-01-01T00:00:00Z') } })),
  },
  'x509.validity.malformed-time': {
    fire: () =>
      one(
        rebuild(leaf(), ca.key, (f) => f.map((x, i) => (i === 4 ? seq(tlv(TAG.UTC_TIME, Buffer.from('2601010000Z')), time(at(30))) : x))),
      ),
    quiet: good,
  },
  'x509.version.extensions-not-v3': {
    fire: () => one(rebuild(leaf(), ca.key, (f) => f.slice(1))),
    quiet: good,
  },
  'x509.extension.duplicate': {
    fire: () => one(leaf({ extraExtensions: [ext('1.2.3.4', false, NULL), ext('1.2.3.4', false, NULL)] })),
    quiet: () => one(leaf({ extraExtensions: [ext('1.2.3.4', false, NULL)] })),
  },
  'x509.extension.explicit-critical-false': {
    fire: () => one(rebuild(leaf(), ca.key, (f) => appendRawExtension(f, seq(oid('1.2.3.4'), bool(false), octetString(NULL))))),
    quiet: () => one(rebuild(leaf(), ca.key, (f) => appendRawExtension(f, seq(oid('1.2.3.4'), octetString(NULL))))),
  },
  'x509.extension.malformed': {
    fire: () => one(leaf({ basicConstraints: false, extraExtensions: [ext(OID.basicConstraints, true, Uint8Array.of(0x04, 0x00))] })),
    quiet: good,
  },
  'x509.extension.unknown-critical': {
    fire: () => one(leaf({ extraExtensions: [ext('1.2.3.4.5', true, NULL)] })),
    quiet: () => one(leaf({ extraExtensions: [ext('1.2.3.4.5', false, NULL)] })),
  },
  'x509.signature.weak-hash': {
    fire: () => one(rebuild(leaf(), ca.key, (f) => f.map((x, i) => (i === 2 ? seq(oid(OID.ecdsaWithSHA1)) : x)), { hash: 'sha1' })),
    quiet: good,
  },
  'x509.signature.algorithm-not-allowed': {
    fire: () => ({ ...good(), policy: policy({ signatures: { allowed: ['ecdsa-with-SHA384'] } }) }),
    quiet: good,
  },
  'x509.signature.algorithm-mismatch': {
    fire: () => one(rebuild(leaf(), ca.key, (f) => f.map((x, i) => (i === 2 ? seq(oid(OID.ecdsaWithSHA384)) : x)))),
    quiet: good,
  },

  // ---- CA and key usage ----
  'x509.ca.basic-constraints-missing': {
    fire: () => issuingSet({ basicConstraints: false, keyUsage: ['keyCertSign'] }),
    quiet: () => pair(ca, leaf()),
  },
  'x509.ca.basic-constraints-not-critical': {
    fire: () =>
      one(
        caCert({
          ca: false,
          basicConstraints: false,
          extraExtensions: [ext(OID.basicConstraints, false, encodeBasicConstraints({ ca: true }))],
        }),
      ),
    quiet: () => one(ca.cert),
  },
  'x509.ca.ca-false': {
    fire: () => issuingSet({ keyUsage: ['digitalSignature'] }),
    quiet: () => pair(ca, leaf()),
  },
  'x509.ca.keycertsign-without-ca': {
    fire: () => one(leaf({ keyUsage: ['digitalSignature', 'keyCertSign'] })),
    quiet: good,
  },
  'x509.leaf.ca-true': {
    fire: () => one(leaf({ subject: 'CN=kube-apiserver', ca: true, keyUsage: ['digitalSignature', 'keyCertSign'] }), 'pki/apiserver.crt'),
    quiet: () => one(leaf({ subject: 'CN=kube-apiserver', sans: kubeadmApiserverSans }), 'pki/apiserver.crt'),
  },
  'x509.ca.key-usage-missing': { fire: () => one(caCert({ keyUsage: [] })), quiet: () => one(ca.cert) },
  'x509.ca.key-usage-not-critical': { fire: () => one(caCert({ keyUsageCritical: false })), quiet: () => one(ca.cert) },
  'x509.ca.key-usage-no-keycertsign': {
    fire: () => one(caCert({ keyUsage: ['digitalSignature', 'cRLSign'] })),
    quiet: () => one(ca.cert),
  },
  'x509.ca.pathlen-on-non-ca': {
    fire: () => one(leaf({ basicConstraints: false, extraExtensions: [ext(OID.basicConstraints, true, seq(integer(0)))] })),
    quiet: good,
  },
  'x509.ca.pathlen-without-keycertsign': {
    fire: () => one(caCert({ pathLen: 0, keyUsage: ['cRLSign'] })),
    quiet: () => one(caCert({ pathLen: 0 })),
  },
  'x509.ca.pathlen-on-root': { fire: () => one(caCert({ pathLen: 1 })), quiet: () => one(ca.cert) },
  'x509.ca.ski-missing': { fire: () => one(caCert({ subjectKeyId: false })), quiet: () => one(ca.cert) },
  'x509.leaf.ski-missing': { fire: () => one(leaf({ subjectKeyId: false })), quiet: good },
  'x509.aki.missing-key-id': { fire: () => one(leaf({ authorityKeyId: false })), quiet: good },
  'x509.aki.critical': {
    fire: () =>
      one(leaf({ authorityKeyId: false, extraExtensions: [ext(OID.authorityKeyIdentifier, true, encodeAki(Uint8Array.of(1, 2, 3)))] })),
    quiet: good,
  },
  'x509.key-usage.empty': {
    fire: () => one(leaf({ keyUsage: [], extraExtensions: [ext(OID.keyUsage, true, namedBits([]))] })),
    quiet: good,
  },
  'x509.key-usage.eku-inconsistent': { fire: () => one(leaf({ keyUsage: ['nonRepudiation'] })), quiet: good },
  'x509.key-usage.key-encipherment-non-rsa': {
    fire: () => one(leaf({ keyUsage: ['digitalSignature', 'keyEncipherment'] })),
    quiet: () => one(leaf({ keyUsage: ['digitalSignature', 'keyEncipherment'] }, { key: rsaPair })),
  },
  'x509.name-constraints.on-non-ca': {
    fire: () => one(leaf({ nameConstraints: { permitted: { dns: ['example.com'] } } })),
    quiet: () => one(caCert({ nameConstraints: { permitted: { dns: ['example.com'] } } })),
  },

  // ---- names ----
  'x509.issuer.empty': {
    fire: () => one(rebuild(leaf(), ca.key, (f) => f.map((x, i) => (i === 3 ? seq() : x)))),
    quiet: good,
  },
  'x509.ca.subject-empty': { fire: () => one(newCa('').cert), quiet: () => one(ca.cert) },
  'x509.san.missing-on-server': { fire: () => one(leaf({ sans: {} })), quiet: good },
  'x509.san.empty': {
    fire: () => one(leaf({ sans: {}, extKeyUsage: ['clientAuth'], extraExtensions: [ext(OID.subjectAltName, false, seq())] })),
    quiet: good,
  },
  'x509.san.empty-entry': { fire: () => one(leaf({ sans: { dns: ['leaf.example.com', ''] } })), quiet: good },
  'x509.san.dns-too-long': {
    fire: () => one(leaf({ sans: { dns: ['leaf.example.com', `${'a'.repeat(70)}.example.com`] } })),
    quiet: () => one(leaf({ sans: { dns: ['leaf.example.com', `${'a'.repeat(63)}.example.com`] } })),
  },
  'x509.san.dns-nul': { fire: () => one(leaf({ sans: { dns: ['leaf.example.com', 'good.example.com\0.evil.com'] } })), quiet: good },
  'x509.san.wildcard-not-leftmost': {
    fire: () => one(leaf({ sans: { dns: ['leaf.example.com', 'www.*.example.com'] } })),
    quiet: () => one(leaf({ sans: { dns: ['leaf.example.com', '*.apps.example.com'] } })),
  },
  'x509.san.bare-wildcard': {
    fire: () => one(leaf({ sans: { dns: ['leaf.example.com', '*.com'] } })),
    quiet: () => one(leaf({ sans: { dns: ['leaf.example.com', '*.apps.example.com'] } })),
  },
  'x509.san.duplicate': {
    fire: () => one(leaf({ sans: { dns: ['leaf.example.com', 'LEAF.example.com'], ip: ['::1', '0:0::1'] } })),
    quiet: () => one(leaf({ sans: { dns: ['leaf.example.com'], ip: ['::1', '127.0.0.1'] } })),
  },
  'x509.san.dns-invalid': {
    fire: () => one(leaf({ sans: { dns: ['leaf.example.com', 'bad host.example.com', '-x.example.com'] } })),
    quiet: () => one(leaf({ sans: { dns: ['leaf.example.com', '*.apps.example.com', '_acme.example.com'] } })),
  },
  'x509.server.cn-not-in-san': {
    fire: () => one(leaf({ sans: { dns: ['other.example.com'] } })),
    quiet: () => one(leaf({ subject: 'CN=10.0.0.1', sans: { ip: ['10.0.0.1'] } })),
  },

  // ---- keys ----
  'x509.key.rsa-too-small': { fire: () => one(rsaLeaf(randomOdd(1024))), quiet: goodRsa },
  'x509.key.rsa-even-modulus': { fire: () => one(rsaLeaf(randomOdd(2048) - 1n)), quiet: goodRsa },
  'x509.key.rsa-bad-exponent': { fire: () => one(rsaLeaf(randomOdd(2048), 65536n)), quiet: goodRsa },
  'x509.key.rsa-small-exponent': { fire: () => one(rsaLeaf(randomOdd(2048), 3n)), quiet: goodRsa },
  'x509.key.rsa-fermat-factorable': { fire: () => one(rsaLeaf(fermatModulus())), quiet: goodRsa },
  'x509.key.roca': { fire: () => one(rsaLeaf(rocaModulus())), quiet: goodRsa },
  'x509.key.ec-curve-not-allowed': {
    fire: () => one(leaf({}, { publicKey: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey })),
    quiet: good,
  },
  'x509.key.algorithm-not-allowed': {
    fire: () => ({ ...good(), policy: policy({ keys: { allowedAlgorithms: ['RSA'] } }) }),
    quiet: good,
  },

  // ---- Kubernetes ----
  'k8s.role.wrong-cn': {
    fire: () => one(leaf({ subject: 'CN=apiserver', sans: kubeadmApiserverSans }), '/etc/kubernetes/pki/apiserver.crt'),
    quiet: () => one(leaf({ subject: 'CN=kube-apiserver', sans: kubeadmApiserverSans }), '/etc/kubernetes/pki/apiserver.crt'),
  },
  'k8s.role.wrong-o': {
    fire: () => one(leaf(clientProfile('CN=kube-apiserver-kubelet-client,O=system:nodes')), 'pki/apiserver-kubelet-client.crt'),
    quiet: () => one(leaf(clientProfile('CN=kube-apiserver-kubelet-client,O=kubeadm:cluster-admins')), 'pki/apiserver-kubelet-client.crt'),
  },
  'k8s.role.kubelet-client-subject': {
    fire: () => one(leaf(clientProfile('CN=system:node:w1,O=system:masters')), '/var/lib/kubelet/pki/kubelet-client-current.pem'),
    quiet: () => one(leaf(clientProfile('CN=system:node:w1,O=system:nodes')), '/var/lib/kubelet/pki/kubelet-client-current.pem'),
  },
  'k8s.role.kubelet-serving-subject': {
    fire: () => one(leaf({ subject: 'CN=w1', sans: { dns: ['w1'] } }), '/var/lib/kubelet/pki/kubelet-server-current.pem'),
    quiet: () =>
      one(leaf({ subject: 'CN=system:node:w1,O=system:nodes', sans: { dns: ['w1'] } }), '/var/lib/kubelet/pki/kubelet-server-current.pem'),
  },
  'k8s.role.missing-eku': {
    fire: () => one(issue(frontProxyCa, { subject: 'CN=front-proxy-client', sans: {} }), 'pki/front-proxy-client.crt'),
    quiet: () => one(issue(frontProxyCa, clientProfile('CN=front-proxy-client')), 'pki/front-proxy-client.crt'),
  },
  'k8s.role.extra-eku': {
    fire: () =>
      one(
        issue(frontProxyCa, { ...clientProfile('CN=front-proxy-client'), extKeyUsage: ['clientAuth', 'serverAuth'] }),
        'pki/front-proxy-client.crt',
      ),
    quiet: () => one(issue(frontProxyCa, clientProfile('CN=front-proxy-client')), 'pki/front-proxy-client.crt'),
  },
  'k8s.apiserver.missing-san': {
    fire: () => one(issue(k8sCa, { subject: 'CN=kube-apiserver', sans: { dns: ['kubernetes'] } }), 'pki/apiserver.crt'),
    quiet: () => one(issue(k8sCa, { subject: 'CN=kube-apiserver', sans: kubeadmApiserverSans }), 'pki/apiserver.crt'),
  },
  'k8s.role.missing-san': {
    fire: () =>
      one(issue(etcdCa, { subject: 'CN=cp1', sans: { dns: ['cp1'] }, extKeyUsage: ['serverAuth', 'clientAuth'] }), 'pki/etcd/server.crt'),
    quiet: () =>
      one(
        issue(etcdCa, {
          subject: 'CN=cp1',
          sans: { dns: ['cp1', 'localhost'], ip: ['127.0.0.1', '::1'] },
          extKeyUsage: ['serverAuth', 'clientAuth'],
        }),
        'pki/etcd/server.crt',
      ),
  },
  'k8s.role.forbidden-san': {
    fire: () =>
      one(
        leaf({ subject: 'CN=system:node:w1,O=system:nodes', sans: { dns: ['w1'], uri: ['spiffe://cluster/w1'] } }),
        'kubelet-server-current.pem',
      ),
    quiet: () => one(leaf({ subject: 'CN=system:node:w1,O=system:nodes', sans: { dns: ['w1'] } }), 'kubelet-server-current.pem'),
  },
  'k8s.role.wrong-signer': {
    fire: () => one(issue(k8sCa, clientProfile('CN=front-proxy-client')), 'pki/front-proxy-client.crt'),
    quiet: () => one(issue(frontProxyCa, clientProfile('CN=front-proxy-client')), 'pki/front-proxy-client.crt'),
  },
  'k8s.bundle.non-ca': {
    fire: () => ({
      targets: [
        { cert: k8sCa.cert, source: 'pki/ca-bundle.crt' },
        { cert: leaf(), source: 'pki/ca-bundle.crt' },
      ],
    }),
    quiet: () => ({
      targets: [
        { cert: k8sCa.cert, source: 'pki/ca-bundle.crt' },
        { cert: ca.cert, source: 'pki/ca-bundle.crt' },
      ],
    }),
  },
  'k8s.key.shared-across-roles': {
    fire: () => {
      const key = generateKey('ecdsa-p256');
      return { targets: [{ cert: leaf(clientProfile('CN=a'), { key }) }, { cert: leaf(clientProfile('CN=b'), { key }) }] };
    },
    quiet: () => ({ targets: [{ cert: leaf(clientProfile('CN=a')) }, { cert: leaf(clientProfile('CN=b')) }] }),
  },

  // ---- RFC 5280 rules zlint checks too (src/lint/lints/rfc5280.ts) ----
  'x509.subject.empty-without-critical-san': {
    fire: () =>
      one(leaf({ subject: '', sans: {}, extraExtensions: [ext(OID.subjectAltName, false, encodeSans({ dns: ['leaf.example.com'] }))] })),
    quiet: () => one(leaf({ subject: '', sans: { dns: ['leaf.example.com'] } })),
  },
  'x509.subject.attribute-too-long': {
    fire: () => one(leaf({ subject: `CN=leaf.example.com,O=${'o'.repeat(65)}` })),
    quiet: () => one(leaf({ subject: `CN=leaf.example.com,O=${'o'.repeat(64)}` })),
  },
  'x509.subject.control-character': {
    fire: () => one(leaf({ subject: [[{ type: OID.CN, name: 'CN', value: 'leaf.example.com\u0008' }]] })),
    quiet: good,
  },
  'x509.name-constraints.not-critical': {
    fire: () => one(ncCa(false, ncValue())),
    quiet: () => one(ncCa(true, ncValue())),
  },
  'x509.name-constraints.empty': {
    fire: () => one(ncCa(true, seq())),
    quiet: () => one(ncCa(true, ncValue())),
  },
  'x509.name-constraints.min-max': {
    fire: () => one(ncCa(true, ncValue(tlv(0x81, Uint8Array.of(3))))),
    quiet: () => one(ncCa(true, ncValue())),
  },
  'x509.ski.critical': {
    fire: () =>
      one(leaf({ subjectKeyId: false, extraExtensions: [ext(OID.subjectKeyIdentifier, true, octetString(new Uint8Array(20).fill(7)))] })),
    quiet: good,
  },
  'x509.extension.empty-list': {
    fire: () => one(leaf({ extKeyUsage: [], extraExtensions: [ext(OID.extKeyUsage, false, seq())] })),
    quiet: good,
  },
  'x509.key-usage.not-critical': {
    fire: () => one(leaf({ keyUsageCritical: false })),
    quiet: good,
  },
  'x509.key-usage.not-der': {
    fire: () => one(leaf({ keyUsage: [], extraExtensions: [rawKu(0x03, 0x03, 0x07, 0x80, 0x00)] })),
    quiet: () => one(leaf({ keyUsage: [], extraExtensions: [rawKu(0x03, 0x02, 0x07, 0x80)] })),
  },
  'x509.extension.explicit-default': {
    fire: () => one(leaf({ basicConstraints: false, extraExtensions: [ext(OID.basicConstraints, true, seq(bool(false)))] })),
    quiet: () => one(leaf({ basicConstraints: false, extraExtensions: [ext(OID.basicConstraints, true, seq())] })),
  },
  'x509.algorithm.rsa-params-not-null': {
    fire: () => {
      const { n, e } = rsaNumbers(rsaPair);
      return one(leaf({}, { publicKey: seq(seq(oid(OID.rsaEncryption)), bitString(seq(integer(n), integer(e)))) }));
    },
    quiet: goodRsa,
  },
  'x509.san.uri-invalid': {
    fire: () => one(leaf({ sans: { dns: ['leaf.example.com'], uri: ['ns/default/sa/web'] } })),
    quiet: () => one(leaf({ sans: { dns: ['leaf.example.com'], uri: ['spiffe://cluster.local/ns/default/sa/web'] } })),
  },
  'x509.san.email-invalid': {
    fire: () => one(leaf({ sans: { dns: ['leaf.example.com'], email: ['Admin <admin@example.com>'] } })),
    quiet: () => one(leaf({ sans: { dns: ['leaf.example.com'], email: ['admin@example.com'] } })),
  },
  'x509.san.dns-underscore': {
    fire: () => one(leaf({ subject: 'CN=my_svc.example.com', sans: { dns: ['my_svc.example.com'] } })),
    quiet: good,
  },
  'x509.ca.rsa-key-encipherment': {
    fire: () => one(rsaCa(['keyCertSign', 'cRLSign', 'keyEncipherment'])),
    quiet: () => one(rsaCa(['keyCertSign', 'cRLSign', 'digitalSignature'])),
  },
  'x509.key.rsa-small-factor': {
    fire: () => one(rsaLeaf(751n * randomOdd(2040))),
    quiet: goodRsa,
  },
  'x509.signature.not-by-issuer': {
    // A CA with the same name but another key (re-keyed, or a second CA) sits where the leaf's issuer should be.
    fire: () => ({ targets: [{ cert: newCa('CN=Anchorage Test Root,O=Anchorage').cert }, { cert: leaf() }] }),
    quiet: () => pair(ca, leaf()),
  },
};
