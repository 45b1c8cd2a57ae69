// `anchorage cert ca|issue|csr|sign|crl|convert`: everyday PKI operations without openssl config files.
// Thin: flags become a profile spec (src/x509/profile-spec.ts) or keystore plan (src/x509/keystore-entries.ts),
// domain code builds the bytes, and src/cli/outputs.ts writes them.
import type { KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { readObjects } from '../../inventory/read.ts';
import { tlsSecretManifest } from '../../k8s/secret.ts';
import { issueCertificate } from '../../x509/build.ts';
import type { Certificate } from '../../x509/certificate.ts';
import { createCrl } from '../../x509/crl.ts';
import { createCsr, signCsr } from '../../x509/csr.ts';
import { writeJks } from '../../x509/jks.ts';
import { generateKey, KEY_TYPES, keyMatchesSpki, loadPrivateKey } from '../../x509/keys.ts';
import { type NamedCert, type NamedKey, planKeystore } from '../../x509/keystore-entries.ts';
import { CRL_REASONS, type CrlReason, KEY_USAGE_BITS } from '../../x509/oids.ts';
import { writePkcs7 } from '../../x509/pkcs7.ts';
import { writePkcs12 } from '../../x509/pkcs12.ts';
import {
  type CaSpec,
  caProfile,
  csrSigningPolicy,
  LEAF_PROFILES,
  type LeafSpec,
  leafProfile,
  parseDays,
  parseExtKeyUsages,
  parseKeyType,
  parseSans,
} from '../../x509/profile-spec.ts';
import { collect, secretArg } from '../args.ts';
import { readInputFile } from '../files.ts';
import { type Output, type ProtectedPath, writeOutputs } from '../outputs.ts';

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

interface Issuer {
  cert: Certificate;
  key: KeyObject;
  /** The issuing CA's own files: never an output. */
  protect: ProtectedPath[];
}

function loadIssuer(o: { ca: string; caKey: string; caPassword?: string }): Issuer {
  const cert = loadCert(o.ca);
  const key = loadKey(o.caKey, o.caPassword);
  if (!keyMatchesSpki(key, cert.spki)) throw new InputError(`${o.caKey} is not the private key of ${o.ca} (${cert.subject})`);
  if (!cert.isCA) throw new InputError(`${o.ca} (${cert.subject}) is not a CA certificate (basicConstraints cA is not TRUE)`);
  return {
    cert,
    key,
    protect: [
      { path: o.ca, why: `it is the issuing CA's certificate (${o.ca}); that would overwrite the issuing CA` },
      { path: o.caKey, why: `it is the issuing CA's key (${o.caKey}); that would overwrite the issuing CA` },
    ],
  };
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

function spec(o: CommonIssueOpts): LeafSpec & CaSpec {
  return {
    subject: o.subject,
    sans: o.san,
    ...(o.days !== undefined ? { days: o.days } : {}),
    ...(o.usage !== undefined ? { usage: o.usage } : {}),
    ...(o.eku !== undefined ? { eku: o.eku } : {}),
    crlUrls: o.crlUrl,
    ocspUrls: o.ocspUrl,
    caIssuersUrls: o.caIssuersUrl,
  };
}

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
    .option('--force', 'overwrite existing files (never the issuing CA)');
}

function certAndKey(o: CommonIssueOpts, c: Certificate, key: KeyObject): Output[] {
  return [
    { path: o.out, data: c.toPem() },
    { path: o.keyOut ?? defaultKeyPath(o.out), data: keyPem(key), secret: true },
  ];
}

export function register(program: Command): void {
  const cert = program.command('cert').description('create CAs, certificates, CSRs and CRLs; convert between formats');

  addCommon(cert.command('ca').description('create a self-signed root CA, or an intermediate with --parent'), 'CA')
    .option('--path-len <n>', 'basicConstraints pathLen')
    .option('--permit <names>', 'name constraints, permitted: DNS names, CIDRs, emails, or DNS:/IP:/email:/URI: (comma separated)')
    .option('--exclude <names>', 'name constraints, excluded (comma separated)')
    .option('--parent <cert>', 'sign with this CA instead of self-signing (makes an intermediate)')
    .option('--parent-key <key>', 'private key of --parent')
    .option(
      '--parent-password <password>',
      'password of --parent-key (env:NAME, file:PATH, prompt, or the value)',
      secretArg('--parent-password'),
    )
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
        const profile = caProfile({
          ...spec(o),
          ...(o.pathLen !== undefined ? { pathLen: o.pathLen } : {}),
          ...(o.permit !== undefined ? { permit: o.permit } : {}),
          ...(o.exclude !== undefined ? { exclude: o.exclude } : {}),
        });
        if (o.parent && !o.parentKey) throw new InputError('--parent needs --parent-key');
        const issuer = o.parent
          ? loadIssuer({
              ca: o.parent,
              caKey: o.parentKey as string,
              ...(o.parentPassword !== undefined ? { caPassword: o.parentPassword } : {}),
            })
          : undefined;
        const kp = generateKey(parseKeyType(o.keyType));
        const c = issuer
          ? issueCertificate({ profile, publicKey: kp.publicKey, issuer })
          : issueCertificate({ profile, publicKey: kp.publicKey, signingKey: kp.privateKey });
        writeOutputs(certAndKey(o, c, kp.privateKey), { force: o.force === true, protect: issuer?.protect ?? [] });
        process.stdout.write(`wrote ${o.out} (${c.subject}, expires ${c.notAfter.toISOString()}) and its key\n`);
      },
    );

  addCommon(cert.command('issue').description('issue a leaf certificate (and a new key) from a CA'), 'certificate')
    .requiredOption('--ca <cert>', 'issuing CA certificate')
    .requiredOption('--ca-key <key>', 'issuing CA private key')
    .option('--ca-password <password>', 'password of --ca-key (env:NAME, file:PATH, prompt, or the value)', secretArg('--ca-password'))
    .option('--profile <name>', `${Object.keys(LEAF_PROFILES).join('|')}: sets usages and EKU`, 'server')
    .action((o: CommonIssueOpts & { ca: string; caKey: string; caPassword?: string; profile: string }) => {
      const profile = leafProfile({ ...spec(o), profile: o.profile });
      const issuer = loadIssuer(o);
      const kp = generateKey(parseKeyType(o.keyType));
      const c = issueCertificate({ profile, publicKey: kp.publicKey, issuer });
      writeOutputs(certAndKey(o, c, kp.privateKey), { force: o.force === true, protect: issuer.protect });
      process.stdout.write(`wrote ${o.out} (${c.subject}, issued by ${c.issuer}, expires ${c.notAfter.toISOString()}) and its key\n`);
    });

  cert
    .command('csr')
    .description('create a certificate signing request (with a new key, or an existing one via --key)')
    .requiredOption('--subject <dn>', 'requested subject')
    .option('--san <name>', 'requested SAN (repeatable)', collect, [])
    .option('--key <file>', 'use this existing private key')
    .option('--key-password <password>', 'password of --key (env:NAME, file:PATH, prompt, or the value)', secretArg('--key-password'))
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
        const sans = parseSans(o.san);
        const eku = parseExtKeyUsages(o.eku);
        const priv = o.key ? loadKey(o.key, o.keyPassword) : generateKey(parseKeyType(o.keyType)).privateKey;
        const csr = createCsr({ subject: o.subject, privateKey: priv, sans, ...(eku ? { extKeyUsage: eku } : {}) });
        const outputs: Output[] = [{ path: o.out, data: csr.toPem() }];
        if (!o.key) outputs.push({ path: o.keyOut ?? defaultKeyPath(o.out), data: keyPem(priv), secret: true });
        writeOutputs(outputs, {
          force: o.force === true,
          protect: o.key ? [{ path: o.key, why: `it is the key the request is made with (${o.key})` }] : [],
        });
        process.stdout.write(`wrote ${o.out}${o.key ? '' : ' and its key'}\n`);
      },
    );

  cert
    .command('sign')
    .description('sign a CSR with a CA')
    .argument('<csr>', 'certificate signing request (PEM or DER)')
    .requiredOption('--ca <cert>', 'issuing CA certificate')
    .requiredOption('--ca-key <key>', 'issuing CA private key')
    .option('--ca-password <password>', 'password of --ca-key (env:NAME, file:PATH, prompt, or the value)', secretArg('--ca-password'))
    .option('--days <n>', 'validity in days', '365')
    .option('--profile <name>', 'server|client|peer: usages and EKU when the CSR asks for none', 'server')
    .option('--usage <list>', 'key usages (override)')
    .option('--eku <list>', 'extended key usages (override)')
    .option('--san <name>', 'replace the requested SANs (repeatable)', collect, [])
    .requiredOption('--out <file>', 'certificate output (PEM)')
    .option('--force', 'overwrite an existing file (never the issuing CA)')
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
        const policy = csrSigningPolicy({
          profile: o.profile,
          sans: o.san,
          ...(o.usage !== undefined ? { usage: o.usage } : {}),
          ...(o.eku !== undefined ? { eku: o.eku } : {}),
        });
        const days = parseDays(o.days, 365);
        const issuer = loadIssuer(o);
        const found = readObjects(readInputFile(csrPath)).objects.find((x) => x.kind === 'csr');
        if (found?.kind !== 'csr') throw new InputError(`${csrPath}: no certificate request found`);
        const c = signCsr({ csr: found.csr, issuer, validity: { days }, policy: (_csr, p) => policy(p) });
        writeOutputs([{ path: o.out, data: c.toPem() }], { force: o.force === true, protect: issuer.protect });
        process.stdout.write(`wrote ${o.out} (${c.subject}, issued by ${c.issuer})\n`);
      },
    );

  cert
    .command('crl')
    .description('create a CRL signed by a CA')
    .requiredOption('--ca <cert>', 'issuing CA certificate')
    .requiredOption('--ca-key <key>', 'issuing CA private key')
    .option('--ca-password <password>', 'password of --ca-key (env:NAME, file:PATH, prompt, or the value)', secretArg('--ca-password'))
    .option('--revoke <serial[:reason]>', `revoke a serial (hex) or a certificate file; reasons: ${CRL_REASONS.join(', ')}`, collect, [])
    .option('--next-update-days <n>', 'days until nextUpdate', '7')
    .option('--crl-number <n>', 'CRL number', '1')
    .requiredOption('--out <file>', 'CRL output (PEM)')
    .option('--force', 'overwrite an existing file (never the issuing CA)')
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
        const days = parseDays(o.nextUpdateDays, 7);
        const crl = createCrl({
          issuer,
          entries,
          thisUpdate: now,
          nextUpdate: new Date(now.getTime() + days * 86400000),
          crlNumber: BigInt(o.crlNumber),
        });
        writeOutputs([{ path: o.out, data: crl.toPem() }], { force: o.force === true, protect: issuer.protect });
        process.stdout.write(`wrote ${o.out} (${entries.length} revoked, next update ${crl.nextUpdate?.toISOString()})\n`);
      },
    );

  cert
    .command('convert')
    .description('convert certificates and keys between PEM, DER, PKCS#7, PKCS#12 (modern or legacy) and JKS')
    .argument('<inputs...>', 'input files (any readable format)')
    .requiredOption('--to <format>', 'pem|der|pkcs7|pkcs12|pkcs12-legacy|jks')
    .requiredOption('--out <file>', 'output file')
    .option(
      '--password <password>',
      'password for the output PKCS#12 or JKS (env:NAME, file:PATH, prompt, or the value)',
      secretArg('--password'),
    )
    .option(
      '--in-password <password>',
      'password of encrypted inputs (env:NAME, file:PATH, prompt, or the value)',
      secretArg('--in-password'),
    )
    .option('--name <alias>', 'alias / friendly name for entries the inputs do not name (default: from the certificate)')
    .option('--force', 'overwrite an existing file')
    .action((inputs: string[], o: ConvertOpts & { out: string; inPassword?: string; force?: boolean }) => {
      const { certs, keys } = readCertsAndKeys(inputs, o.inPassword);
      const data = convert(certs, keys, o);
      writeOutputs([{ path: o.out, data, secret: keys.length > 0 }], { force: o.force === true });
      process.stdout.write(`wrote ${o.out} (${o.to})\n`);
    });

  cert
    .command('split')
    .description(
      'split a key and its chain (PKCS#12, JKS, PEM bundle, kubeconfig) into tls.crt, tls.key and ca.crt, and/or a kubernetes.io/tls Secret manifest',
    )
    .argument('<inputs...>', 'input files holding one private key and its certificates')
    .option('--out-dir <dir>', 'write tls.crt (leaf + intermediates), tls.key (0600) and ca.crt (the root, when present) here')
    .option('--secret <name>', 'also write a kubernetes.io/tls Secret manifest with this name (as kubectl create secret tls does)')
    .option('-n, --namespace <ns>', "the Secret's namespace")
    .option('--secret-out <file>', 'where the manifest goes (default: DIR/<name>.secret.yaml with --out-dir; - for stdout)')
    .option(
      '--in-password <password>',
      'password of encrypted inputs (env:NAME, file:PATH, prompt, or the value)',
      secretArg('--in-password'),
    )
    .option('--force', 'overwrite existing files')
    .action(
      (
        inputs: string[],
        o: { outDir?: string; secret?: string; namespace?: string; secretOut?: string; inPassword?: string; force?: boolean },
      ) => {
        if (!o.outDir && !o.secret) throw new InputError('give --out-dir, --secret, or both');
        const { certs, keys } = readCertsAndKeys(inputs, o.inPassword);
        if (keys.length !== 1) throw new InputError(`split needs exactly one private key in the inputs (found ${keys.length})`);
        const plan = planKeystore(certs, keys);
        const entry = plan.keys[0];
        if (!entry) throw new InputError('no certificate in the inputs matches the private key');
        const chain = [...entry.chain, ...plan.trusted.map((t) => t.cert)];
        const root = chain.find((c) => c.selfSigned && c.isCA);
        const tlsCrt = chain
          .filter((c) => c !== root)
          .map((c) => c.toPem())
          .join('');
        const tlsKey = keyPem(entry.key);
        const caCrt = root?.toPem();
        const outs: Output[] = [];
        if (o.outDir) {
          outs.push({ path: join(o.outDir, 'tls.crt'), data: tlsCrt }, { path: join(o.outDir, 'tls.key'), data: tlsKey, secret: true });
          if (caCrt) outs.push({ path: join(o.outDir, 'ca.crt'), data: caCrt });
        }
        let manifest: string | undefined;
        if (o.secret) {
          manifest = tlsSecretManifest({
            name: o.secret,
            ...(o.namespace ? { namespace: o.namespace } : {}),
            certPem: tlsCrt,
            keyPem: tlsKey,
            ...(caCrt ? { caPem: caCrt } : {}),
          });
          const target = o.secretOut ?? (o.outDir ? join(o.outDir, `${o.secret}.secret.yaml`) : undefined);
          if (!target) throw new InputError('--secret without --out-dir needs --secret-out FILE (or - for stdout)');
          if (target !== '-') outs.push({ path: target, data: manifest, secret: true });
        }
        if (o.outDir) mkdirSync(o.outDir, { recursive: true, mode: 0o755 });
        writeOutputs(outs, { force: o.force === true });
        if (o.secretOut === '-' && manifest) process.stdout.write(manifest);
        else for (const x of outs) process.stdout.write(`wrote ${x.path}${x.secret ? ' (0600)' : ''}\n`);
      },
    );
}

function readCertsAndKeys(inputs: string[], password: string | undefined): { certs: NamedCert[]; keys: NamedKey[] } {
  const certs: NamedCert[] = [];
  const keys: NamedKey[] = [];
  for (const p of inputs) {
    for (const x of readObjects(readInputFile(p), password === undefined ? {} : { password }).objects) {
      const alias = x.alias !== undefined ? { alias: x.alias } : {};
      if (x.kind === 'certificate') certs.push({ cert: x.cert, ...alias });
      else if (x.kind === 'private-key') keys.push({ key: x.key, ...alias });
    }
  }
  return { certs, keys };
}

interface ConvertOpts {
  to: string;
  password?: string;
  name?: string;
}

function convert(certs: NamedCert[], keys: NamedKey[], o: ConvertOpts): string | Uint8Array {
  const needPw = (): string => {
    if (o.password === undefined) throw new InputError(`--to ${o.to} needs --password`);
    return o.password;
  };
  switch (o.to) {
    case 'pem':
      return [...certs.map((c) => c.cert.toPem()), ...keys.map((k) => keyPem(k.key))].join('');
    case 'der': {
      if (certs.length + keys.length !== 1) throw new InputError('--to der writes exactly one object: give one certificate or one key');
      return certs[0] ? certs[0].cert.der : (keys[0] as NamedKey).key.export({ type: 'pkcs8', format: 'der' });
    }
    case 'pkcs7':
      if (keys.length) throw new InputError('--to pkcs7 holds certificates only: leave the private key out (or use pkcs12 or jks)');
      if (!certs.length) throw new InputError('--to pkcs7 needs at least one certificate');
      return writePkcs7(certs.map((c) => c.cert.der));
    case 'jks': {
      if (!certs.length) throw new InputError('--to jks needs at least one certificate');
      const plan = planKeystore(certs, keys, o.name);
      return writeJks({
        keys: plan.keys.map((k) => ({ alias: k.alias, key: k.key, chain: k.chain.map((c) => c.der) })),
        trusted: plan.trusted.map((t) => ({ alias: t.alias, der: t.cert.der })),
        password: needPw(),
      });
    }
    case 'pkcs12':
    case 'pkcs12-legacy': {
      if (keys.length > 1) throw new InputError('PKCS#12 output takes at most one private key');
      if (!certs.length) throw new InputError('PKCS#12 output needs a certificate');
      const plan = planKeystore(certs, keys, o.name);
      const profile = o.to === 'pkcs12' ? 'modern' : 'legacy';
      const k = plan.keys[0];
      if (k) {
        const [leaf, ...issuers] = k.chain as [Certificate, ...Certificate[]];
        return writePkcs12({
          key: k.key,
          cert: leaf.der,
          chain: [...issuers, ...plan.trusted.map((t) => t.cert)].map((c) => c.der),
          password: needPw(),
          friendlyName: k.alias,
          profile,
        });
      }
      const [first, ...rest] = plan.trusted as [(typeof plan.trusted)[number], ...typeof plan.trusted];
      return writePkcs12({
        cert: first.cert.der,
        chain: rest.map((t) => t.cert.der),
        chainNames: rest.map((t) => t.alias),
        password: needPw(),
        friendlyName: first.alias,
        profile,
      });
    }
    default:
      throw new InputError(`--to '${o.to}' is not one of pem, der, pkcs7, pkcs12, pkcs12-legacy, jks`);
  }
}
