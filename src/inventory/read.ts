// Read any PKI object from bytes, auto-detecting the container format. Pure: callers do the file I/O.
// The readers of containers and of CSRs and CRLs are loaded when an input needs them (src/common/lazy.ts):
// a PEM certificate, the common case, loads none of them (CLI start-up, docs/benchmarks.md).
import type { KeyObject } from 'node:crypto';
import { InputError, oneLine } from '../common/errors.ts';
import { lazy } from '../common/lazy.ts';
import { Certificate } from '../x509/certificate.ts';
import type { Crl } from '../x509/crl.ts';
import type { Csr } from '../x509/csr.ts';
import { DerError, parse, readNode, TAG } from '../x509/der.ts';
import { loadPrivateKey, publicKeyFromSpki, sniffPrivateKeyDer } from '../x509/keys.ts';
import { WorkBudget } from '../x509/pbe.ts';
import { looksLikePem, type PemBlock, scanPem } from '../x509/pem.ts';
import type { Pkcs12Protection } from '../x509/pkcs12.ts';

const kubeconfig = lazy<typeof import('../k8s/kubeconfig.ts')>(import.meta.url, '../k8s/kubeconfig');
const crl = lazy<typeof import('../x509/crl.ts')>(import.meta.url, '../x509/crl');
const csr = lazy<typeof import('../x509/csr.ts')>(import.meta.url, '../x509/csr');
const jks = lazy<typeof import('../x509/jks.ts')>(import.meta.url, '../x509/jks');
const pkcs7 = lazy<typeof import('../x509/pkcs7.ts')>(import.meta.url, '../x509/pkcs7');
const pkcs12 = lazy<typeof import('../x509/pkcs12.ts')>(import.meta.url, '../x509/pkcs12');

export type Format = 'pem' | 'der' | 'pkcs7' | 'pkcs12' | 'jks' | 'kubeconfig';

interface Base {
  /** Where inside the input: "block 2 (line 31)", "users[admin].client-certificate-data", "alias ca". */
  location: string;
  /** The name the container gave it: a PKCS#12 friendlyName or a JKS alias. */
  alias?: string;
}
export type Found =
  | (Base & { kind: 'certificate'; cert: Certificate })
  | (Base & { kind: 'private-key'; key: KeyObject; encoding: string })
  | (Base & { kind: 'public-key'; key: KeyObject; spki: Uint8Array })
  | (Base & { kind: 'csr'; csr: Csr })
  | (Base & { kind: 'crl'; crl: Crl });

export interface ReadResult {
  format: Format;
  /** How a PKCS#12 file is protected (MAC, ciphers, iterations). */
  protection?: Pkcs12Protection;
  objects: Found[];
  /** Problems that did not stop the read (an unreadable block among good ones). */
  warnings: string[];
}

export interface ReadOptions {
  password?: string;
  /** Key-derivation work budget shared by everything in one input (a new one per call by default). */
  budget?: WorkBudget;
}

/** Warnings kept per input: a file of a million broken blocks must not make a million-line report. */
export const MAX_WARNINGS = 100;

const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);
const CSR_LABELS = new Set(['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
const IGNORED_LABELS = new Set(['EC PARAMETERS', 'DH PARAMETERS', 'X9.42 DH PARAMETERS']);

/** Read every object in `data`. Throws InputError when nothing readable is there. */
export function readObjects(data: Uint8Array, opts: ReadOptions = {}): ReadResult {
  try {
    return detectAndRead(data, opts.budget ? opts : { ...opts, budget: new WorkBudget() });
  } catch (e) {
    if (e instanceof DerError) throw new InputError(oneLine(`malformed DER: ${e.message}`));
    if (e instanceof InputError) throw new InputError(oneLine(e.message));
    throw e;
  }
}

function detectAndRead(data: Uint8Array, opts: ReadOptions): ReadResult {
  if (data.length === 0) throw new InputError('empty input');
  // A view, not Buffer.from(data) (a copy of every file's bytes).
  if (looksLikePem(data)) return readPem(Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1'), opts);
  // Every JKS keystore starts with 0xFE (magic FEEDFEED): other inputs need not load the JKS reader.
  if (data[0] === 0xfe && jks().isJks(data)) return { format: 'jks', objects: fromJks(data, opts), warnings: [] };
  if (isText(data)) {
    const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
    if (kubeconfig().looksLikeKubeconfig(text)) return readKubeconfigObjects(text, opts);
    throw new InputError('no PEM block, DER structure or kubeconfig found (plain text input)');
  }
  return readDer(data, opts);
}

function isText(data: Uint8Array): boolean {
  const n = Math.min(data.length, 4096);
  for (let i = 0; i < n; i++) {
    const c = data[i] as number;
    if (c < 9 || (c > 13 && c < 32 && c !== 27)) return false;
  }
  return true;
}

function readPem(text: string, opts: ReadOptions): ReadResult {
  const blocks = scanPem(text);
  const objects: Found[] = [];
  const warnings: string[] = [];
  let dropped = 0;
  blocks.forEach((b, i) => {
    const location = blocks.length > 1 ? `block ${i + 1} (line ${b.line})` : `line ${b.line}`;
    try {
      for (const o of fromPemBlock(b, location, opts)) objects.push(o);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      // A wrong password or an exhausted budget is fatal: every later block would fail the same way.
      if (/password|too large/.test(e.message)) throw new InputError(`${location}: ${e.message}`);
      if (warnings.length < MAX_WARNINGS) warnings.push(`${location}: ${b.label}: ${e.message}`);
      else dropped++;
    }
  });
  if (dropped > 0) warnings.push(`${dropped} more unreadable blocks not listed`);
  if (objects.length === 0) {
    if (warnings.length) throw new InputError(warnings[0] as string);
    if (blocks.length === 0) throw new InputError('no PEM blocks found');
  }
  return { format: 'pem', objects, warnings };
}

function fromPemBlock(b: PemBlock, location: string, opts: ReadOptions): Found[] {
  if (CERT_LABELS.has(b.label)) {
    // TRUSTED CERTIFICATE appends openssl's trust settings after the certificate.
    const der = b.label === 'TRUSTED CERTIFICATE' ? firstTlv(b.der) : b.der;
    return [{ kind: 'certificate', cert: new Certificate(der), location }];
  }
  if (CSR_LABELS.has(b.label)) return [{ kind: 'csr', csr: new (csr().Csr)(b.der), location }];
  if (b.label === 'X509 CRL') return [{ kind: 'crl', crl: new (crl().Crl)(b.der), location }];
  if (KEY_LABELS.has(b.label)) {
    const encrypted = b.label === 'ENCRYPTED PRIVATE KEY' || b.headers['Proc-Type']?.includes('ENCRYPTED');
    const key = loadPrivateKey(b.text, opts.password ?? (encrypted ? undefined : ''), opts.budget);
    return [{ kind: 'private-key', key, encoding: encrypted ? `${b.label} (encrypted)` : b.label, location }];
  }
  if (b.label === 'PUBLIC KEY') return [{ kind: 'public-key', key: publicKeyFromSpki(b.der), spki: b.der, location }];
  if (b.label === 'PKCS7' || b.label === 'CMS') return fromPkcs7(b.der, location);
  if (IGNORED_LABELS.has(b.label)) return [];
  throw new InputError(`unsupported PEM label '${b.label}'`);
}

function firstTlv(der: Uint8Array): Uint8Array {
  return readNode(der, 0).raw;
}

function fromPkcs7(der: Uint8Array, location: string): Found[] {
  const p7 = pkcs7().readPkcs7(der);
  return [
    ...p7.certificates.map((c, i): Found => ({ kind: 'certificate', cert: new Certificate(c), location: `${location} cert ${i + 1}` })),
    ...p7.crls.map((c, i): Found => ({ kind: 'crl', crl: new (crl().Crl)(c), location: `${location} crl ${i + 1}` })),
  ];
}

function fromJks(data: Uint8Array, opts: ReadOptions): Found[] {
  if (opts.password === undefined) throw new InputError('a JKS keystore needs a password (--password)');
  const ks = jks().readJks(data, opts.password);
  const out: Found[] = [];
  for (const e of ks.entries) {
    if (e.type === 'trusted-cert')
      out.push({ kind: 'certificate', cert: new Certificate(e.der), location: `alias ${e.alias}`, alias: e.alias });
    else {
      out.push({ kind: 'private-key', key: e.key, encoding: 'JKS private key entry', location: `alias ${e.alias}`, alias: e.alias });
      e.chain.forEach((c, i) => {
        out.push({ kind: 'certificate', cert: new Certificate(c), location: `alias ${e.alias} chain ${i + 1}` });
      });
    }
  }
  return out;
}

function readKubeconfigObjects(text: string, opts: ReadOptions): ReadResult {
  const kc = kubeconfig().readKubeconfig(text);
  const objects: Found[] = [];
  const warnings: string[] = [];
  for (const e of kc.embedded) {
    try {
      for (const o of readObjects(e.data, opts).objects) objects.push({ ...o, location: `${e.location} ${o.location}`.trim() });
    } catch (err) {
      warnings.push(`${e.location}: ${(err as Error).message}`);
    }
  }
  for (const r of kc.references) warnings.push(`${r.location} refers to file ${r.path} (not read)`);
  if (objects.length === 0 && warnings.length === 0) throw new InputError('kubeconfig holds no embedded certificates or keys');
  return { format: 'kubeconfig', objects, warnings };
}

/** Binary input: decide by structure, not by trial and error across every parser. */
function readDer(data: Uint8Array, opts: ReadOptions): ReadResult {
  let top: ReturnType<typeof parse>;
  try {
    top = parse(data);
  } catch (e) {
    // Containers made by Windows and Java tools are often BER (indefinite lengths): their readers convert.
    if (pkcs12().isPkcs12(data)) return fromPkcs12(data, opts);
    if (pkcs7().isPkcs7(data)) return { format: 'pkcs7', objects: fromPkcs7(data, 'PKCS#7'), warnings: [] };
    throw new InputError(`not PEM, DER, PKCS#12, JKS or a kubeconfig (${(e as Error).message})`);
  }
  if (top.tag !== TAG.SEQUENCE) throw new InputError('DER input does not start with a SEQUENCE');
  const kids = top.children();
  const [a, b, c] = kids;
  const one = (o: Found): ReadResult => ({ format: 'der', objects: [o], warnings: [] });
  // Certificate, CRL and CSR: SEQUENCE { SEQUENCE tbs, SEQUENCE alg, BIT STRING }
  if (kids.length === 3 && a?.tag === TAG.SEQUENCE && b?.tag === TAG.SEQUENCE && c?.tag === TAG.BIT_STRING) {
    const inner = a.children();
    const f0 = inner[0];
    if (f0?.tag === 0xa0 || (inner[1]?.tag === TAG.SEQUENCE && inner[3]?.tag === TAG.SEQUENCE && inner[2]?.tag === TAG.SEQUENCE)) {
      return one({ kind: 'certificate', cert: new Certificate(data), location: 'DER' });
    }
    if (f0?.tag === TAG.INTEGER && inner[3]?.tag === 0xa0) return one({ kind: 'csr', csr: new (csr().Csr)(data), location: 'DER' });
    return one({ kind: 'crl', crl: new (crl().Crl)(data), location: 'DER' });
  }
  if (pkcs12().isPkcs12(data)) return fromPkcs12(data, opts);
  if (a?.tag === TAG.OID) return { format: 'pkcs7', objects: fromPkcs7(data, 'PKCS#7'), warnings: [] };
  if (kids.length === 2 && a?.tag === TAG.SEQUENCE && b?.tag === TAG.BIT_STRING)
    return one({ kind: 'public-key', key: publicKeyFromSpki(data), spki: data, location: 'DER' });
  if (a?.tag === TAG.INTEGER || a?.tag === TAG.SEQUENCE) {
    const kind = sniffPrivateKeyDer(data);
    if (kind === 'encrypted-pkcs8' && opts.password === undefined)
      throw new InputError('the private key is encrypted: a password is needed (--password)');
    return one({
      kind: 'private-key',
      key: loadPrivateKey(data, opts.password, opts.budget),
      encoding: kind.toUpperCase(),
      location: 'DER',
    });
  }
  throw new InputError('unrecognised DER structure');
}

function fromPkcs12(data: Uint8Array, opts: ReadOptions): ReadResult {
  if (opts.password === undefined) throw new InputError('a PKCS#12 file needs a password (--password; use "" for none)');
  const p12 = pkcs12().readPkcs12(data, opts.password, opts.budget);
  const objects: Found[] = [
    ...p12.keys.map(
      (k, i): Found => ({
        kind: 'private-key',
        key: k.key,
        encoding: 'PKCS#12 key bag',
        location: bagName('key', i, k.friendlyName),
        ...(k.friendlyName !== undefined ? { alias: k.friendlyName } : {}),
      }),
    ),
    ...p12.certificates.map(
      (cb, i): Found => ({
        kind: 'certificate',
        cert: new Certificate(cb.der),
        location: bagName('cert', i, cb.friendlyName),
        ...(cb.friendlyName !== undefined ? { alias: cb.friendlyName } : {}),
      }),
    ),
  ];
  return { format: 'pkcs12', ...(p12.protection ? { protection: p12.protection } : {}), objects, warnings: [] };
}

function bagName(kind: string, i: number, friendlyName?: string): string {
  return friendlyName ? `${kind} bag ${i + 1} "${friendlyName}"` : `${kind} bag ${i + 1}`;
}
