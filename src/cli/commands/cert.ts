// `anchorage cert ca|issue|csr|sign|crl|convert`: everyday PKI operations without openssl config files.
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { readObjects } from '../../inventory/read.ts';
import { type CertProfile, issueCertificate } from '../../x509/build.ts';
import type { Certificate } from '../../x509/certificate.ts';
import { createCrl } from '../../x509/crl.ts';
import { createCsr, signCsr } from '../../x509/csr.ts';
import type { SubjectAltNames } from '../../x509/extensions.ts';
import { writeJksTruststore } from '../../x509/jks.ts';
import { generateKey, KEY_TYPES, type KeyType, keyMatchesSpki, loadPrivateKey } from '../../x509/keys.ts';
import { CRL_REASONS, type CrlReason, KEY_USAGE_BITS, type KeyUsage } from '../../x509/oids.ts';
import { writePkcs7 } from '../../x509/pkcs7.ts';
import { writePkcs12 } from '../../x509/pkcs12.ts';
import { readInputFile, writeFilesAtomic } from '../files.ts';

const KEY_MODE = 0o600;

export function parseSans(list: string[]): Partial<SubjectAltNames> {
  const out: SubjectAltNames = { dns: [], ip: [], uri: [], email: [], other: [] };
  for (const item of list
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(DNS|IP|URI|email):(.+)$/i.exec(item);
    const [type, value] = m ? [(m[1] as string).toLowerCase(), m[2] as string] : [isIP(item) ? 'ip' : 'dns', item];
    if (type === 'ip' && !isIP(value)) throw new InputError(`--san '${item}': not an IP address`);
    (out[type as 'dns' | 'ip' | 'uri' | 'email'] as string[]).push(value);
  }
  return out;
}

function parseKeyType(s: string): KeyType {
  if (!(KEY_TYPES as readonly string[]).includes(s)) throw new InputError(`--key-type '${s}' is not one of ${KEY_TYPES.join(', ')}`);
  return s as KeyType;
}

function parseUsages(s: string | undefined): KeyUsage[] | undefined {
  if (s === undefined) return undefined;
  return s.split(',').map((u) => {
    const k = KEY_USAGE_BITS.find((b) => b.toLowerCase() === u.trim().toLowerCase());
    if (!k) throw new InputError(`--usage '${u}' is not one of ${KEY_USAGE_BITS.join(', ')}`);
    return k;
  });
}

function parsePositive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`${name} '${v}' must be a positive number`);
  return n;
}

function loadCert(path: string): Certificate {
  const found = readObjects(readInputFile(path)).objects.find((o) => o.kind === 'certificate');
  if (found?.kind !== 'certificate') throw new InputError(`${path}: no certificate found`);
  return found.cert;
}

function loadKey(path: string, password?: string): KeyObject {
  const data = readInputFile(path);
  try {
    return loadPrivateKey(data, password);
  } catch (e) {
    throw new InputError(`${path}: ${(e as Error).message}`);
  }
}

function loadIssuer(o: { ca: string; caKey: string; caPassword?: string }): { cert: Certificate; key: KeyObject } {
  const cert = loadCert(o.ca);
  const key = loadKey(o.caKey, o.caPassword);
  if (!keyMatchesSpki(key, cert.spki)) throw new InputError(`${o.caKey} is not the private key of ${o.ca} (${cert.subject})`);
  if (!cert.isCA) throw new InputError(`${o.ca} (${cert.subject}) is not a CA certificate (basicConstraints cA is not TRUE)`);
  return { cert, key };
}

const keyPem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }) as string;
const defaultKeyPath = (out: string): string => `${out.replace(/\.(crt|pem|cer|der|csr)$/i, '')}.key`;

interface CommonIssueOpts {
  subject: string;
  san: string[];
  keyType: string;
  days?: string;
  out: string;
  keyOut?: string;
  force?: boolean;
  usage?: string;
  eku?: string;
  crlUrl: string[];
  ocspUrl: string[];
  caIssuersUrl: string[];
}

function commonProfile(o: CommonIssueOpts, days: number): CertProfile {
  return {
    subject: o.subject,
    sans: parseSans(o.san),
    validity: { days: parsePositive('--days', o.days) ?? days },
    crlDistributionPoints: o.crlUrl,
    authorityInfoAccess: { ocsp: o.ocspUrl, caIssuers: o.caIssuersUrl },
  };
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function addCommon(c: Command, what: string): Command {
  return c
    .requiredOption('--subject <dn>', `${what} subject, e.g. "CN=kube-apiserver,O=example"`)
    .option(
      '--san <name>',
      'subject alternative name: DNS:x, IP:1.2.3.4, URI:spiffe://..., email:a@b (repeatable, or comma separated)',
      collect,
      [],
    )
    .option('--key-type <type>', KEY_TYPES.join('|'), 'ecdsa-p256')
    .option('--days <n>', 'validity in days')
    .option('--usage <list>', `key usages (${KEY_USAGE_BITS.join(',')})`)
    .option('--eku <list>', 'extended key usages: serverAuth,clientAuth,... or OIDs')
    .option('--crl-url <url>', 'CRL distribution point (repeatable)', collect, [])
    .option('--ocsp-url <url>', 'AIA OCSP responder (repeatable)', collect, [])
    .option('--ca-issuers-url <url>', 'AIA CA issuers URL (repeatable)', collect, [])
    .requiredOption('--out <file>', 'certificate output (PEM)')
    .option('--key-out <file>', 'private key output (PEM, written 0600); default: --out with .key')
    .option('--force', 'overwrite existing files');
}

export function register(program: Command): void {
  const cert = program.command('cert').description('create CAs, certificates, CSRs and CRLs; convert between formats');

  addCommon(cert.command('ca').description('create a self-signed root CA, or an intermediate with --parent'), 'CA')
    .option('--path-len <n>', 'basicConstraints pathLen')
    .option('--permit <names>', 'name constraints, permitted: DNS names, CIDRs, emails (comma separated)')
    .option('--exclude <names>', 'name constraints, excluded (comma separated)')
    .option('--parent <cert>', 'sign with this CA instead of self-signing (makes an intermediate)')
    .option('--parent-key <key>', 'private key of --parent')
    .option('--parent-password <password>', 'password of --parent-key')
    .action(
      (
        o: CommonIssueOpts & {
          pathLen?: string;
          permit?: string;
          exclude?: string;
          parent?: string;
          parentKey?: string;
          parentPassword?: string;
        },
      ) => {
        const kp = generateKey(parseKeyType(o.keyType));
        const profile: CertProfile = {
          ...commonProfile(o, 3650),
          ca: true,
          keyUsage: parseUsages(o.usage) ?? ['digitalSignature', 'keyCertSign', 'cRLSign'],
        };
        if (o.eku) profile.extKeyUsage = o.eku.split(',');
        if (o.pathLen !== undefined) {
          const n = Number(o.pathLen);
          if (!Number.isInteger(n) || n < 0) throw new InputError(`--path-len '${o.pathLen}' must be a whole number >= 0`);
          profile.pathLen = n;
        }
        if (o.permit || o.exclude) {
          const split = (s?: string): { dns: string[]; ip: string[]; email: string[] } => {
            const r = { dns: [] as string[], ip: [] as string[], email: [] as string[] };
            for (const v of (s ?? '')
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean)) {
              if (v.includes('/') || isIP(v)) r.ip.push(v);
              else if (v.includes('@')) r.email.push(v);
              else r.dns.push(v);
            }
            return r;
          };
          profile.nameConstraints = { permitted: split(o.permit), excluded: split(o.exclude) };
        }
        if (o.parent && !o.parentKey) throw new InputError('--parent needs --parent-key');
        const issuer = o.parent ? loadIssuer({ ca: o.parent, caKey: o.parentKey as string, caPassword: o.parentPassword }) : undefined;
        const c = issuer
          ? issueCertificate({ profile, publicKey: kp.publicKey, issuer })
          : issueCertificate({ profile, publicKey: kp.publicKey, signingKey: kp.privateKey });
        writeFilesAtomic(
          [
            { path: o.out, data: c.toPem() },
            { path: o.keyOut ?? defaultKeyPath(o.out), data: keyPem(kp.privateKey), mode: KEY_MODE },
          ],
          o.force,
        );
        process.stdout.write(`wrote ${o.out} (${c.subject}, expires ${c.notAfter.toISOString()}) and its key\n`);
      },
    );

  addCommon(cert.command('issue').description('issue a leaf certificate (and a new key) from a CA'), 'certificate')
    .requiredOption('--ca <cert>', 'issuing CA certificate')
    .requiredOption('--ca-key <key>', 'issuing CA private key')
    .option('--ca-password <password>', 'password of --ca-key')
    .option('--profile <name>', 'server|client|peer: sets usages and EKU', 'server')
    .action((o: CommonIssueOpts & { ca: string; caKey: string; caPassword?: string; profile: string }) => {
      const issuer = loadIssuer(o);
      const kp = generateKey(parseKeyType(o.keyType));
      const profile: CertProfile = { ...commonProfile(o, 365), ...leafUsages(o) };
      const c = issueCertificate({ profile, publicKey: kp.publicKey, issuer });
      writeFilesAtomic(
        [
          { path: o.out, data: c.toPem() },
          { path: o.keyOut ?? defaultKeyPath(o.out), data: keyPem(kp.privateKey), mode: KEY_MODE },
        ],
        o.force,
      );
      process.stdout.write(`wrote ${o.out} (${c.subject}, issued by ${c.issuer}, expires ${c.notAfter.toISOString()}) and its key\n`);
    });

  cert
    .command('csr')
    .description('create a certificate signing request (with a new key, or an existing one via --key)')
    .requiredOption('--subject <dn>', 'requested subject')
    .option('--san <name>', 'requested SAN (repeatable)', collect, [])
    .option('--key <file>', 'use this existing private key')
    .option('--key-password <password>', 'password of --key')
    .option('--key-type <type>', KEY_TYPES.join('|'), 'ecdsa-p256')
    .option('--eku <list>', 'requested extended key usages')
    .requiredOption('--out <file>', 'CSR output (PEM)')
    .option('--key-out <file>', 'new private key output (0600); default: --out with .key')
    .option('--force', 'overwrite existing files')
    .action(
      (o: {
        subject: string;
        san: string[];
        key?: string;
        keyPassword?: string;
        keyType: string;
        eku?: string;
        out: string;
        keyOut?: string;
        force?: boolean;
      }) => {
        const priv = o.key ? loadKey(o.key, o.keyPassword) : generateKey(parseKeyType(o.keyType)).privateKey;
        const csr = createCsr({
          subject: o.subject,
          privateKey: priv,
          sans: parseSans(o.san),
          ...(o.eku ? { extKeyUsage: o.eku.split(',') } : {}),
        });
        const outputs: { path: string; data: string; mode?: number }[] = [{ path: o.out, data: csr.toPem() }];
        if (!o.key) outputs.push({ path: o.keyOut ?? defaultKeyPath(o.out), data: keyPem(priv), mode: KEY_MODE });
        writeFilesAtomic(outputs, o.force);
        process.stdout.write(`wrote ${o.out}${o.key ? '' : ' and its key'}\n`);
      },
    );

  cert
    .command('sign')
    .description('sign a CSR with a CA')
    .argument('<csr>', 'certificate signing request (PEM or DER)')
    .requiredOption('--ca <cert>', 'issuing CA certificate')
    .requiredOption('--ca-key <key>', 'issuing CA private key')
    .option('--ca-password <password>', 'password of --ca-key')
    .option('--days <n>', 'validity in days', '365')
    .option('--profile <name>', 'server|client|peer: usages and EKU when the CSR asks for none', 'server')
    .option('--usage <list>', 'key usages (override)')
    .option('--eku <list>', 'extended key usages (override)')
    .option('--san <name>', 'replace the requested SANs (repeatable)', collect, [])
    .requiredOption('--out <file>', 'certificate output (PEM)')
    .option('--force', 'overwrite an existing file')
    .action(
      (
        csrPath: string,
        o: {
          ca: string;
          caKey: string;
          caPassword?: string;
          days: string;
          profile: string;
          usage?: string;
          eku?: string;
          san: string[];
          out: string;
          force?: boolean;
        },
      ) => {
        const issuer = loadIssuer(o);
        const found = readObjects(readInputFile(csrPath)).objects.find((x) => x.kind === 'csr');
        if (found?.kind !== 'csr') throw new InputError(`${csrPath}: no certificate request found`);
        const usages = leafUsages(o);
        const c = signCsr({
          csr: found.csr,
          issuer,
          validity: { days: parsePositive('--days', o.days) ?? 365 },
          policy: (_csr, p) => ({
            ...p,
            keyUsage: parseUsages(o.usage) ?? p.keyUsage ?? usages.keyUsage,
            extKeyUsage: o.eku ? o.eku.split(',') : (p.extKeyUsage ?? usages.extKeyUsage),
            ...(o.san.length ? { sans: parseSans(o.san) } : {}),
          }),
        });
        writeFilesAtomic([{ path: o.out, data: c.toPem() }], o.force);
        process.stdout.write(`wrote ${o.out} (${c.subject}, issued by ${c.issuer})\n`);
      },
    );

  cert
    .command('crl')
    .description('create a CRL signed by a CA')
    .requiredOption('--ca <cert>', 'issuing CA certificate')
    .requiredOption('--ca-key <key>', 'issuing CA private key')
    .option('--ca-password <password>', 'password of --ca-key')
    .option('--revoke <serial[:reason]>', `revoke a serial (hex) or a certificate file; reasons: ${CRL_REASONS.join(', ')}`, collect, [])
    .option('--next-update-days <n>', 'days until nextUpdate', '7')
    .option('--crl-number <n>', 'CRL number', '1')
    .requiredOption('--out <file>', 'CRL output (PEM)')
    .option('--force', 'overwrite an existing file')
    .action(
      (o: {
        ca: string;
        caKey: string;
        caPassword?: string;
        revoke: string[];
        nextUpdateDays: string;
        crlNumber: string;
        out: string;
        force?: boolean;
      }) => {
        const issuer = loadIssuer(o);
        const now = new Date();
        const entries = o.revoke.map((r) => {
          const [what, reason] = r.split(':') as [string, string | undefined];
          if (reason !== undefined && !(CRL_REASONS as readonly string[]).includes(reason))
            throw new InputError(`--revoke '${r}': unknown reason (expected one of ${CRL_REASONS.join(', ')})`);
          const serial = /^[0-9a-fA-F]+$/.test(what) ? what.toLowerCase() : loadCert(what).serialNumber;
          return reason ? { serial, revokedAt: now, reason: reason as CrlReason } : { serial, revokedAt: now };
        });
        if (!/^\d+$/.test(o.crlNumber)) throw new InputError(`--crl-number '${o.crlNumber}' must be a whole number`);
        const days = parsePositive('--next-update-days', o.nextUpdateDays) ?? 7;
        const crl = createCrl({
          issuer,
          entries,
          thisUpdate: now,
          nextUpdate: new Date(now.getTime() + days * 86400000),
          crlNumber: BigInt(o.crlNumber),
        });
        writeFilesAtomic([{ path: o.out, data: crl.toPem() }], o.force);
        process.stdout.write(`wrote ${o.out} (${entries.length} revoked, next update ${crl.nextUpdate?.toISOString()})\n`);
      },
    );

  cert
    .command('convert')
    .description('convert certificates and keys between PEM, DER, PKCS#7, PKCS#12 (modern or legacy) and a JKS truststore')
    .argument('<inputs...>', 'input files (any readable format)')
    .requiredOption('--to <format>', 'pem|der|pkcs7|pkcs12|pkcs12-legacy|jks')
    .requiredOption('--out <file>', 'output file')
    .option('--password <password>', 'password for the output PKCS#12 or JKS')
    .option('--in-password <password>', 'password of encrypted inputs')
    .option('--name <alias>', 'friendly name / alias', 'anchorage')
    .option('--force', 'overwrite an existing file')
    .action((inputs: string[], o: { to: string; out: string; password?: string; inPassword?: string; name: string; force?: boolean }) => {
      const objs = inputs.flatMap(
        (p) => readObjects(readInputFile(p), o.inPassword === undefined ? {} : { password: o.inPassword }).objects,
      );
      const certs = objs.flatMap((x) => (x.kind === 'certificate' ? [x.cert] : []));
      const keys = objs.flatMap((x) => (x.kind === 'private-key' ? [x.key] : []));
      const data = convert(certs, keys, o);
      writeFilesAtomic(
        [{ path: o.out, data, mode: keys.length && o.to !== 'jks' && o.to !== 'pkcs7' && o.to !== 'der' ? KEY_MODE : 0o644 }],
        o.force,
      );
      process.stdout.write(`wrote ${o.out} (${o.to})\n`);
    });
}

function leafUsages(o: { profile: string; usage?: string; eku?: string }): { keyUsage: KeyUsage[]; extKeyUsage: string[] } {
  const eku: Record<string, string[]> = { server: ['serverAuth'], client: ['clientAuth'], peer: ['serverAuth', 'clientAuth'] };
  const base = eku[o.profile];
  if (!base) throw new InputError(`--profile '${o.profile}' is not one of server, client, peer`);
  return { keyUsage: parseUsages(o.usage) ?? ['digitalSignature', 'keyEncipherment'], extKeyUsage: o.eku ? o.eku.split(',') : base };
}

function convert(certs: Certificate[], keys: KeyObject[], o: { to: string; password?: string; name: string }): string | Uint8Array {
  const needPw = (): string => {
    if (o.password === undefined) throw new InputError(`--to ${o.to} needs --password`);
    return o.password;
  };
  switch (o.to) {
    case 'pem':
      return [...certs.map((c) => c.toPem()), ...keys.map(keyPem)].join('');
    case 'der': {
      if (certs.length + keys.length !== 1) throw new InputError('--to der writes exactly one object: give one certificate or one key');
      return certs[0] ? certs[0].der : (keys[0] as KeyObject).export({ type: 'pkcs8', format: 'der' });
    }
    case 'pkcs7':
      if (!certs.length) throw new InputError('--to pkcs7 needs at least one certificate');
      return writePkcs7(certs.map((c) => c.der));
    case 'jks':
      if (!certs.length) throw new InputError('--to jks needs at least one certificate');
      return writeJksTruststore(
        certs.map((c, i) => ({ alias: certs.length > 1 ? `${o.name}-${i + 1}` : o.name, der: c.der })),
        needPw(),
      );
    case 'pkcs12':
    case 'pkcs12-legacy': {
      if (keys.length > 1) throw new InputError('PKCS#12 output takes at most one private key');
      const key = keys[0];
      const leaf = key ? certs.find((c) => keyMatchesSpki(key, c.spki)) : certs[0];
      if (!leaf) throw new InputError(key ? 'no certificate matches the private key' : 'PKCS#12 output needs a certificate');
      return writePkcs12({
        ...(key ? { key } : {}),
        cert: leaf.der,
        chain: certs.filter((c) => c !== leaf).map((c) => c.der),
        password: needPw(),
        friendlyName: o.name,
        profile: o.to === 'pkcs12' ? 'modern' : 'legacy',
      });
    }
    default:
      throw new InputError(`--to '${o.to}' is not one of pem, der, pkcs7, pkcs12, pkcs12-legacy, jks`);
  }
}
