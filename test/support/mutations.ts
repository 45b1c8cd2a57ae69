// Seeded, generated verification cases for the Go differential test: small chains (root, optional
// intermediate, leaf) built with the issuer, then mutated: extensions, encodings, names, name
// constraints, validity, algorithms, purposes and hosts. The same seed gives the same cases.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { KeyPair } from '../../src/x509/keys.ts';
import {
  clone,
  cons,
  decodeTree,
  encodeTree,
  oidTlv,
  prim,
  type SigAlg,
  sigAlg as sigAlgOf,
  signTbs,
  type Tlv,
  tbsOf,
} from './der-tree.ts';
import { ca, type Issued, leaf } from './trust-fixtures.ts';

export interface MutationCase {
  id: string;
  /** What was done, for failure messages. */
  what: string[];
  leaf: Uint8Array;
  roots: Uint8Array[];
  intermediates: Uint8Array[];
  at: Date;
  /** server, client, any or an EKU OID. */
  purpose: string;
  host?: string;
}

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'p256' | 'p384' | 'p224' | 'k256' | 'rsa2048' | 'rsa1024' | 'rsa512' | 'ed25519';
const gen = (k: Kind): KeyPair => {
  const g = generateKeyPairSync as unknown as (t: string, o: object) => KeyPair;
  switch (k) {
    case 'p256':
      return g('ec', { namedCurve: 'prime256v1' });
    case 'p384':
      return g('ec', { namedCurve: 'secp384r1' });
    case 'p224':
      return g('ec', { namedCurve: 'secp224r1' });
    case 'k256':
      return g('ec', { namedCurve: 'secp256k1' });
    case 'rsa2048':
      return g('rsa', { modulusLength: 2048 });
    case 'rsa1024':
      return g('rsa', { modulusLength: 1024 });
    case 'rsa512':
      return g('rsa', { modulusLength: 512 });
    case 'ed25519':
      return g('ed25519', {});
  }
};

const AT = new Date('2025-06-01T00:00:00Z');
const DAY = 86400000;
const kids = (t: Tlv): Tlv[] => t.kids as Tlv[];
const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

const OIDS = {
  ku: '2.5.29.15',
  bc: '2.5.29.19',
  san: '2.5.29.17',
  eku: '2.5.29.37',
  ski: '2.5.29.14',
  aki: '2.5.29.35',
  nc: '2.5.29.30',
  aia: '1.3.6.1.5.5.7.1.1',
};
const oidOf = (ext: Tlv): string => Buffer.from((kids(ext)[0] as Tlv).value as Uint8Array).toString('hex');
const oidHex = (dotted: string): string => Buffer.from(oidTlv(dotted).value as Uint8Array).toString('hex');

function extsOf(tbs: Tlv): Tlv | undefined {
  const w = kids(tbs).find((x) => x.tag === 0xa3);
  return w ? (kids(w)[0] as Tlv) : undefined;
}
export function findExt(tbs: Tlv, dotted: string): Tlv | undefined {
  return extsOf(tbs) ? kids(extsOf(tbs) as Tlv).find((e) => oidOf(e) === oidHex(dotted)) : undefined;
}
export function setExt(tbs: Tlv, dotted: string, value: Tlv | Uint8Array, critical?: boolean): void {
  let exts = extsOf(tbs);
  if (!exts) {
    exts = cons(0x30);
    kids(tbs).push(cons(0xa3, exts));
  }
  const v = value instanceof Uint8Array ? value : encodeTree(value);
  const e = cons(0x30, oidTlv(dotted), ...(critical ? [prim(0x01, [0xff])] : []), prim(0x04, v));
  const list = kids(exts);
  const i = list.findIndex((x) => oidOf(x) === oidHex(dotted));
  if (i >= 0) list[i] = e;
  else list.push(e);
}
export function dropExt(tbs: Tlv, dotted: string): void {
  const exts = extsOf(tbs);
  if (!exts) return;
  exts.kids = kids(exts).filter((x) => oidOf(x) !== oidHex(dotted));
}
const subjectIdx = (tbs: Tlv): number => (kids(tbs)[0]?.tag === 0xa0 ? 5 : 4);
const validityIdx = (tbs: Tlv): number => (kids(tbs)[0]?.tag === 0xa0 ? 4 : 3);
const serialIdx = (tbs: Tlv): number => (kids(tbs)[0]?.tag === 0xa0 ? 1 : 0);

function constructedNodes(t: Tlv, out: Tlv[] = []): Tlv[] {
  if (t.kids) {
    out.push(t);
    for (const k of t.kids) constructedNodes(k, out);
  }
  return out;
}

/** The low-level mutations: each changes a TBS in place; some return a signature algorithm to use. */
const LOW: Record<string, (t: Tlv, r: () => number) => SigAlg | undefined> = {
  'len-pad-tbs': (t) => {
    t.padLength = 1;
  },
  'len-pad-node': (t, r) => {
    const nodes = constructedNodes(t).slice(1);
    const n = nodes[Math.floor(r() * nodes.length)];
    if (n) n.padLength = 1 + Math.floor(r() * 2);
  },
  'serial-nonminimal': (t) => {
    kids(t)[serialIdx(t)] = prim(2, [0, 0x12, 0x34]);
  },
  'serial-negative': (t) => {
    kids(t)[serialIdx(t)] = prim(2, [0x91, 0x22]);
  },
  'serial-zero': (t) => {
    kids(t)[serialIdx(t)] = prim(2, [0]);
  },
  'serial-21-octets': (t) => {
    kids(t)[serialIdx(t)] = prim(2, [0x11, ...Array(20).fill(0x42)]);
  },
  'version-v1': (t) => {
    if (kids(t)[0]?.tag === 0xa0) kids(t).shift();
  },
  'version-v1-explicit': (t) => {
    kids(t)[0] = cons(0xa0, prim(2, [0]));
  },
  'version-v2': (t) => {
    kids(t)[0] = cons(0xa0, prim(2, [1]));
  },
  'version-v4': (t) => {
    kids(t)[0] = cons(0xa0, prim(2, [3]));
  },
  'critical-false-explicit': (t) => {
    const e = extsOf(t) ? kids(extsOf(t) as Tlv).find((x) => kids(x).length === 2) : undefined;
    if (e) kids(e).splice(1, 0, prim(1, [0]));
  },
  'critical-bool-01': (t) => {
    const e = extsOf(t) ? kids(extsOf(t) as Tlv).find((x) => kids(x).length === 3) : undefined;
    if (e) kids(e)[1] = prim(1, [1]);
  },
  'duplicate-extension': (t) => {
    const exts = extsOf(t);
    if (exts && kids(exts).length) kids(exts).push(clone(kids(exts)[0] as Tlv));
  },
  'utctime-no-seconds': (t) => {
    kids(kids(t)[validityIdx(t)] as Tlv)[0] = prim(0x17, utf8('2501010000Z'));
  },
  'utctime-offset': (t) => {
    kids(kids(t)[validityIdx(t)] as Tlv)[0] = prim(0x17, utf8('250101000000+0100'));
  },
  'generalized-before-2050': (t) => {
    kids(kids(t)[validityIdx(t)] as Tlv)[1] = prim(0x18, utf8('20291231235959Z'));
  },
  'generalized-fraction': (t) => {
    kids(kids(t)[validityIdx(t)] as Tlv)[1] = prim(0x18, utf8('20291231235959.5Z'));
  },
  'subject-string': (t, r) => {
    const opts: [number, number[]][] = [
      [0x13, utf8('a@b')],
      [0x13, utf8('wild*card&co')],
      [0x13, utf8('under_score')],
      [0x0c, [0x61, 0xff, 0xfe]],
      [0x0c, utf8('ünïcode')],
      [0x16, [0x61, 0xe9]],
      [0x16, utf8('ascii')],
      [0x1e, [0, 0x61, 0, 0x62]],
      [0x1e, [0xd8, 0x00, 0, 0x61]],
      [0x1e, [0, 0x61, 0]],
      [0x14, [0x61, 0xe9]],
      [0x12, utf8('123 45')],
      [0x12, utf8('12a')],
      [0x1c, [0, 0, 0, 0x61]],
      [0x04, utf8('octets')],
    ];
    const [tag, v] = opts[Math.floor(r() * opts.length)] as [number, number[]];
    const subj = kids(t)[subjectIdx(t)] as Tlv;
    subj.kids = [...kids(subj), cons(0x31, cons(0x30, oidTlv('2.5.4.11'), prim(tag, v)))];
  },
  'subject-set-unsorted': (t) => {
    const subj = kids(t)[subjectIdx(t)] as Tlv;
    subj.kids = [
      ...kids(subj),
      cons(0x31, cons(0x30, oidTlv('2.5.4.11'), prim(0x0c, utf8('zz'))), cons(0x30, oidTlv('2.5.4.10'), prim(0x0c, utf8('aa')))),
    ];
  },
  'subject-empty': (t) => {
    kids(t)[subjectIdx(t)] = cons(0x30);
  },
  'san-raw': (t, r) => {
    const gns: Tlv[][] = [
      [prim(0x82, [...Buffer.from('bücher.example.com', 'latin1')])],
      [prim(0x82, utf8('a.example.com')), prim(0x82, utf8('*.example.com'))],
      [prim(0x82, utf8('trailing.example.com.'))],
      [prim(0x82, utf8('under_score.example.com'))],
      [prim(0x82, utf8(''))],
      [prim(0x86, utf8('spiffe://a.example.com/x'))],
      [prim(0x86, utf8('https://10.0.0.1/x'))],
      [prim(0x86, utf8('https://bad host/x'))],
      [prim(0x86, utf8('urn:uuid:1234'))],
      [prim(0x86, utf8('%zz'))],
      [prim(0x87, [10, 0, 0, 1, 5])],
      [prim(0x87, [10, 0, 0, 1])],
      [prim(0x81, utf8('bob@a.example.com'))],
      [prim(0x81, utf8('not-an-email'))],
      [prim(0x81, [0x62, 0xe9, 0x40, 0x61])],
      [cons(0xa4, cons(0x30, cons(0x31, cons(0x30, oidTlv('2.5.4.3'), prim(0x0c, utf8('dir'))))))],
      [],
    ];
    const g = gns[Math.floor(r() * gns.length)] as Tlv[];
    setExt(t, OIDS.san, cons(0x30, ...g), r() < 0.3);
  },
  'ku-padding-bits': (t) => {
    setExt(t, OIDS.ku, prim(0x03, [7, 0x81]), true);
  },
  'ku-empty-bits': (t) => {
    setExt(t, OIDS.ku, prim(0x03, [0]), true);
  },
  'eku-empty': (t) => {
    setExt(t, OIDS.eku, cons(0x30));
  },
  'eku-unknown-only': (t) => {
    setExt(t, OIDS.eku, cons(0x30, oidTlv('1.3.6.1.4.1.99999.7')));
  },
  'bc-ca-false-explicit': (t) => {
    setExt(t, OIDS.bc, cons(0x30, prim(1, [0])), true);
  },
  'bc-pathlen-nonminimal': (t) => {
    setExt(t, OIDS.bc, cons(0x30, prim(1, [0xff]), prim(2, [0, 1])), true);
  },
  'bc-absent': (t) => {
    dropExt(t, OIDS.bc);
  },
  'aki-critical': (t) => {
    const e = findExt(t, OIDS.aki);
    if (e && kids(e).length === 2) kids(e).splice(1, 0, prim(1, [0xff]));
  },
  'ski-critical': (t) => {
    const e = findExt(t, OIDS.ski);
    if (e && kids(e).length === 2) kids(e).splice(1, 0, prim(1, [0xff]));
  },
  'aia-critical': (t) => {
    setExt(t, OIDS.aia, cons(0x30, cons(0x30, oidTlv('1.3.6.1.5.5.7.48.2'), prim(0x86, utf8('http://ca.example.com/ca.crt')))), true);
  },
  'nc-empty': (t) => {
    setExt(t, OIDS.nc, cons(0x30), true);
  },
  'unknown-critical': (t) => {
    setExt(t, '1.3.6.1.4.1.99999.1', prim(0x05, []), true);
  },
  'subject-dir-attrs-critical': (t) => {
    setExt(t, '2.5.29.9', cons(0x30), true);
  },
  'aki-wrong': (t) => {
    setExt(t, OIDS.aki, cons(0x30, prim(0x80, Array(20).fill(0xab))));
  },
  'subject-email': (t) => {
    const subj = kids(t)[subjectIdx(t)] as Tlv;
    subj.kids = [...kids(subj), cons(0x31, cons(0x30, oidTlv('1.2.840.113549.1.9.1'), prim(0x16, utf8('eve@other.test'))))];
  },
  'inner-sig-mismatch': () => 'ecdsa-sha384',
  'indefinite-tbs': (t) => {
    t.indefinite = true;
  },
};

/** Signature algorithm mutations for an issuer key type. */
function sigAlgsFor(kind: Kind): SigAlg[] {
  if (kind === 'ed25519') return ['ed25519'];
  if (kind === 'rsa512') return ['rsa-sha256', 'rsa-sha1', 'rsa-md5'];
  if (kind.startsWith('rsa'))
    return [
      'rsa-sha256',
      'rsa-sha1',
      'rsa-md5',
      'rsa-sha256-no-null',
      { pss: { hash: 'sha256', mgf1Hash: 'sha256', saltLength: 32 } },
      { pss: { hash: 'sha384', mgf1Hash: 'sha384', saltLength: 48 } },
      ...(kind === 'rsa1024' ? [] : [{ pss: { hash: 'sha512', mgf1Hash: 'sha512', saltLength: 64 } } as SigAlg]),
      { pss: { hash: 'sha256', mgf1Hash: 'sha256', saltLength: 20 } },
      { pss: { hash: 'sha256', mgf1Hash: 'sha1', saltLength: 32 } },
      { pss: { hash: 'sha1', mgf1Hash: 'sha1', saltLength: 20 } },
      { pss: { hash: 'sha256', mgf1Hash: 'sha256', saltLength: 32, trailer: 1 } },
    ];
  return ['ecdsa-sha256', 'ecdsa-sha384', 'ecdsa-sha1'];
}

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;

interface Keys {
  pairs: Map<Kind, KeyPair[]>;
}

function keyPool(): Keys {
  const pairs = new Map<Kind, KeyPair[]>();
  const counts: [Kind, number][] = [
    ['p256', 6],
    ['p384', 1],
    ['p224', 1],
    ['k256', 1],
    ['rsa2048', 3],
    ['rsa1024', 1],
    ['rsa512', 1],
    ['ed25519', 2],
  ];
  for (const [k, n] of counts)
    pairs.set(
      k,
      Array.from({ length: n }, () => gen(k)),
    );
  return { pairs };
}

const NAME_SETS = [
  { permitted: { dns: ['example.com'] } },
  { permitted: { dns: ['.example.com'] } },
  { excluded: { dns: ['bad.example.com'] } },
  { excluded: { dns: ['x.example.com'] } },
  { permitted: { ip: ['10.0.0.0/8'] } },
  { excluded: { ip: ['10.0.0.0/24'] } },
  { permitted: { email: ['example.com'] } },
  { permitted: { email: ['.example.com'] } },
  { permitted: { email: ['bob@a.example.com'] } },
  { permitted: { uri: ['example.com'] } },
  { permitted: { uri: ['.example.com'] } },
  { permitted: { directory: ['O=Acme'] } },
  { permitted: { dns: ['example.com'] }, excluded: { dns: ['internal.example.com'] } },
  { permitted: { dns: [''] } },
];

const SANS = [
  { dns: ['a.example.com'] },
  { dns: ['example.com'] },
  { dns: ['*.example.com'] },
  { dns: ['a.b.example.com'] },
  { dns: ['bad.example.com'] },
  { dns: ['db.internal.example.com'] },
  { dns: ['other.test'] },
  { dns: ['A.Example.COM'] },
  { ip: ['10.0.0.1'] },
  { ip: ['192.168.1.1'] },
  { ip: ['2001:db8::1'] },
  { email: ['bob@a.example.com'] },
  { email: ['bob@example.com'] },
  { email: ['alice@other.test'] },
  { uri: ['spiffe://a.example.com/ns/x'] },
  { uri: ['spiffe://example.com/ns/x'] },
  { uri: ['spiffe://other.test/ns/x'] },
  { dns: ['a.example.com'], ip: ['10.0.0.1'], uri: ['spiffe://a.example.com/x'] },
  {},
];

const HOSTS = [
  'a.example.com',
  'A.EXAMPLE.COM',
  'x.example.com',
  'example.com',
  'a.b.example.com',
  '10.0.0.1',
  '2001:db8::1',
  'other.test',
  'a.example.com.',
];

/** `count` cases from `seed`. */
export function generateMutations(seed: number, count: number): MutationCase[] {
  const r = rng(seed);
  const keys = keyPool();
  const key = (k: Kind): KeyPair => pick(r, keys.pairs.get(k) as KeyPair[]);
  const out: MutationCase[] = [];
  for (let n = 0; n < count; n++) {
    const what: string[] = [];
    const caKind: Kind = r() < 0.75 ? 'p256' : pick(r, ['rsa2048', 'p384', 'ed25519', 'rsa1024', 'rsa512', 'p224'] as Kind[]);
    const intKind: Kind = r() < 0.75 ? 'p256' : pick(r, ['rsa2048', 'p384', 'ed25519', 'rsa1024'] as Kind[]);
    const leafKind: Kind = r() < 0.8 ? 'p256' : pick(r, ['rsa2048', 'p384', 'ed25519', 'p224', 'k256', 'rsa512'] as Kind[]);
    if (caKind !== 'p256' || intKind !== 'p256' || leafKind !== 'p256') what.push(`keys ${caKind}/${intKind}/${leafKind}`);
    const withInt = r() < 0.7;

    // Semantic options.
    const rootOpts: Record<string, unknown> = {};
    const intOpts: Record<string, unknown> = {};
    const leafOpts: Record<string, unknown> = { extKeyUsage: ['serverAuth'], sans: { dns: ['a.example.com'] } };
    const sem = (p: number, label: string, f: () => void): void => {
      if (r() < p) {
        f();
        what.push(label);
      }
    };
    sem(0.15, 'leaf EKU', () => {
      leafOpts.extKeyUsage = pick(r, [['clientAuth'], ['serverAuth', 'clientAuth'], ['anyExtendedKeyUsage'], ['codeSigning'], undefined]);
      if (leafOpts.extKeyUsage === undefined) delete leafOpts.extKeyUsage;
      what.push(String(leafOpts.extKeyUsage));
    });
    sem(0.12, 'CA EKU', () => {
      const e = pick(r, [['clientAuth'], ['serverAuth'], ['anyExtendedKeyUsage'], ['serverAuth', 'clientAuth']]);
      (withInt && r() < 0.6 ? intOpts : rootOpts).extKeyUsage = e;
      what.push(String(e));
    });
    sem(0.2, 'leaf SANs', () => {
      leafOpts.sans = pick(r, SANS);
      what.push(JSON.stringify(leafOpts.sans));
    });
    sem(0.2, 'name constraints', () => {
      const nc = pick(r, NAME_SETS);
      const critical = r() < 0.8;
      (withInt && r() < 0.5 ? intOpts : rootOpts).nameConstraints = { ...nc, critical };
      what.push(`${JSON.stringify(nc)} critical=${critical}`);
    });
    sem(0.08, 'leaf subject O', () => {
      leafOpts.subjectO = pick(r, ['Acme', 'Other']);
    });
    sem(0.08, 'pathLen', () => {
      rootOpts.pathLen = pick(r, [0, 1]);
      what.push(`root pathLen ${rootOpts.pathLen}`);
    });
    sem(0.06, 'int pathLen 0 + leaf CA', () => {
      intOpts.pathLen = 0;
    });
    sem(0.06, 'CA keyUsage', () => {
      const ku = pick(r, [['digitalSignature'], ['keyCertSign'], ['cRLSign'], []]);
      (withInt ? intOpts : rootOpts).keyUsage = ku;
      what.push(String(ku));
    });
    sem(0.06, 'int not CA', () => {
      intOpts.ca = false;
    });
    sem(0.06, 'leaf keyUsage', () => {
      leafOpts.keyUsage = pick(r, [['cRLSign'], ['keyEncipherment'], ['keyAgreement'], ['digitalSignature']]);
      what.push(String(leafOpts.keyUsage));
    });
    sem(0.04, 'self-issued intermediate', () => {
      intOpts.selfIssued = true;
    });
    sem(0.05, 'no AKI on leaf', () => {
      leafOpts.authorityKeyId = false;
    });
    sem(0.05, 'no SKI on CA', () => {
      intOpts.subjectKeyId = false;
      rootOpts.subjectKeyId = false;
    });

    const root = ca(`CN=Root ${n}`, undefined, { pair: key(caKind), ...rootOpts });
    const selfIssued = intOpts.selfIssued === true;
    delete intOpts.selfIssued;
    // A self-issued intermediate: same name as the root, another key (a key rollover certificate).
    const int = withInt ? ca(selfIssued ? `CN=Root ${n}` : `CN=Int ${n}`, root, { pair: key(intKind), ...intOpts }) : undefined;
    const issuer = int ?? root;
    const subject = leafOpts.subjectO ? `CN=leaf ${n},O=${leafOpts.subjectO}` : `CN=leaf ${n}`;
    delete leafOpts.subjectO;
    const lf = leaf(subject, issuer, { pair: key(leafKind), ...leafOpts });

    // Validity and check time.
    let at = AT;
    sem(0.07, 'time', () => {
      at = pick(r, [
        new Date('2024-12-31T23:59:59Z'),
        new Date('2030-01-01T00:00:01Z'),
        new Date('2030-01-01T00:00:00Z'),
        new Date(AT.getTime() + 100 * DAY),
      ]);
      what.push(at.toISOString());
    });

    // Low-level mutation of one certificate, re-signed.
    const der = { root: root.cert.der, int: int?.cert.der, leaf: lf.cert.der };
    const signerOf = (target: 'root' | 'int' | 'leaf'): { key: KeyObject; kind: Kind } =>
      target === 'root'
        ? { key: root.key, kind: caKind }
        : target === 'int'
          ? { key: root.key, kind: caKind }
          : { key: issuer.key, kind: int ? intKind : caKind };
    const lowP = r();
    if (lowP < 0.55) {
      const target: 'root' | 'int' | 'leaf' = r() < 0.6 || !int ? (r() < 0.85 ? 'leaf' : 'root') : 'int';
      const name = pick(r, Object.keys(LOW));
      const t = tbsOf(der[target] as Uint8Array);
      const signer = signerOf(target);
      const alg = sigAlgsFor(signer.kind)[0] as SigAlg;
      const res = (LOW[name] as (t: Tlv, r: () => number) => SigAlg | undefined)(t, r);
      what.push(`${target}: ${name}`);
      let outerAlgOverride: SigAlg | undefined;
      if (res) outerAlgOverride = res;
      const signed = signTbs(t, alg, signer.key);
      der[target] = outerAlgOverride ? swapOuterAlg(signed, outerAlgOverride) : signed;
    } else if (lowP < 0.75) {
      const target: 'int' | 'leaf' = int && r() < 0.3 ? 'int' : 'leaf';
      const signer = signerOf(target);
      const alg = pick(r, sigAlgsFor(signer.kind));
      what.push(`${target} signed ${JSON.stringify(alg)}`);
      der[target] = signTbs(tbsOf(der[target] as Uint8Array), alg, signer.key);
    }

    const purpose = r() < 0.7 ? 'server' : pick(r, ['client', 'any', '1.3.6.1.5.5.7.3.3']);
    const host = r() < 0.25 ? pick(r, HOSTS) : undefined;
    out.push({
      id: `m${seed}-${n}`,
      what,
      leaf: der.leaf,
      roots: [der.root],
      intermediates: der.int ? [der.int] : [],
      at,
      purpose,
      ...(host !== undefined ? { host } : {}),
    });
  }
  return out;
}

/** Replace the outer signatureAlgorithm (the TBS keeps its own): Go refuses the mismatch. */
function swapOuterAlg(cert: Uint8Array, alg: SigAlg): Uint8Array {
  const t = decodeTree(cert);
  const { id } = sigAlgOf(alg);
  kids(t)[1] = id;
  kids(t)[0] = { tag: 0x30, raw: encodeTree(kids(t)[0] as Tlv) };
  return encodeTree(t);
}

export type { Issued };
