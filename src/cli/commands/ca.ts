// `anchorage ca …`: the internal CA service (docs/ca.md). Trust zones, policy, tokens, issuance,
// revocation, CRLs, the transparency log, the HTTP API (`ca serve`) and its client (`ca enroll`, `ca renew`).
// Thin: flags to src/ca calls; files through src/cli/outputs.ts.
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { postJson } from '../../ca/client.ts';
import { loadKek, newKek } from '../../ca/kek.ts';
import { parseLogExport, parseTreeHead, verifyLog } from '../../ca/log-verify.ts';
import type { Pkcs11Options } from '../../ca/pkcs11.ts';
import { PROFILES, type Profile } from '../../ca/policy.ts';
import { startCaServer } from '../../ca/server.ts';
import { CaService, identitiesOf, parseIdentity } from '../../ca/service.ts';
import { InputError } from '../../common/errors.ts';
import { resolveSecret } from '../../common/secret-source.ts';
import { readObjects } from '../../inventory/read.ts';
import { openStore } from '../../store/open.ts';
import type { Certificate } from '../../x509/certificate.ts';
import { createCsr } from '../../x509/csr.ts';
import { generateKey, KEY_TYPES, type KeyType, keyMatchesSpki, loadPrivateKey } from '../../x509/keys.ts';
import { CRL_REASONS, type CrlReason } from '../../x509/oids.ts';
import { parseSans } from '../../x509/profile-spec.ts';
import { collect, secretArg } from '../args.ts';
import { readInputFile } from '../files.ts';
import { type Leading, type LeaseCliOptions, lead, leaseFlags, leaseTiming, replicaIdentity } from '../leader.ts';
import { checkFormat, printOutput, renderTable } from '../output.ts';
import { writeOutputs } from '../outputs.ts';

const DEFAULT_DB = 'sqlite:anchorage-ca.db';

interface StoreOpts {
  db?: string;
  kek?: string;
  pkcs11Module?: string;
  pkcs11Pin?: string;
}

/** The PKCS#11 module and PIN source: read only when a CA whose key is on a token signs (docs/ca.md). */
function pkcs11Options(o: StoreOpts): Pkcs11Options {
  const module = o.pkcs11Module ?? process.env.ANCHORAGE_PKCS11_MODULE;
  const spec = o.pkcs11Pin ?? process.env.ANCHORAGE_PKCS11_PIN_SPEC;
  const pin = (): string => {
    if (spec === undefined && process.env.ANCHORAGE_PKCS11_PIN === undefined)
      throw new InputError(
        'no PKCS#11 PIN: give --pkcs11-pin file:PATH|env:NAME, or set ANCHORAGE_PKCS11_PIN_SPEC or ANCHORAGE_PKCS11_PIN',
      );
    const text = resolveSecret(spec ?? 'env:ANCHORAGE_PKCS11_PIN', 'PKCS#11 PIN').trim();
    if (!text) throw new InputError('the PKCS#11 PIN is empty');
    return text;
  };
  return { ...(module ? { module } : {}), pin };
}

async function openService(o: StoreOpts, onAudit?: (line: string) => void): Promise<CaService> {
  const spec = o.kek ?? process.env.ANCHORAGE_CA_KEK_SPEC;
  if (spec === undefined && process.env.ANCHORAGE_CA_KEK === undefined)
    throw new InputError('no key-encryption key: give --kek file:PATH|env:NAME, or set ANCHORAGE_CA_KEK_SPEC or ANCHORAGE_CA_KEK');
  const kek = loadKek(spec ?? 'env:ANCHORAGE_CA_KEK');
  const store = await openStore(o.db ?? process.env.ANCHORAGE_CA_DB ?? DEFAULT_DB, { createDir: true });
  try {
    return await CaService.open({
      store,
      kek,
      pkcs11: pkcs11Options(o),
      ...(onAudit ? { onAudit: (e) => onAudit(JSON.stringify(e)) } : {}),
    });
  } catch (e) {
    await store.close();
    throw e;
  }
}

async function withService<T>(o: StoreOpts, f: (s: CaService) => Promise<T>): Promise<T> {
  const s = await openService(o);
  try {
    return await f(s);
  } finally {
    s.closeKeys();
    await s.store.close();
  }
}

const storeOptions = (c: Command): Command =>
  c
    .option('--db <url>', `the store: sqlite:PATH or postgres://… (default $ANCHORAGE_CA_DB or ${DEFAULT_DB})`)
    .option(
      '--kek <source>',
      'key-encryption key: file:PATH or env:NAME (default $ANCHORAGE_CA_KEK_SPEC, else the key itself in $ANCHORAGE_CA_KEK)',
    )
    .option('--pkcs11-module <path>', 'PKCS#11 module for CAs whose key is on a token (default $ANCHORAGE_PKCS11_MODULE, else SoftHSM)')
    .option(
      '--pkcs11-pin <source>',
      "the token's user PIN: file:PATH or env:NAME (default $ANCHORAGE_PKCS11_PIN_SPEC, else the PIN itself in $ANCHORAGE_PKCS11_PIN)",
    );

const requester = (): string => `cli:${userInfo().username}`;

function certsIn(path: string): Certificate[] {
  const certs = readObjects(readInputFile(path)).objects.flatMap((o) => (o.kind === 'certificate' ? [o.cert] : []));
  if (certs.length === 0) throw new InputError(`${path}: no certificate found`);
  return certs;
}

function parseProfile(p: string): Profile {
  if (!PROFILES.includes(p as Profile)) throw new InputError(`--profile must be one of ${PROFILES.join(', ')}`);
  return p as Profile;
}

export function parseDuration(s: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new InputError(`'${s}' is not a duration (e.g. 900s, 30m, 1h, 7d)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's'];
}

function parseListen(s: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  if (!m) throw new InputError(`${what}: '${s}' must be host:port`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port: Number(m[3]) };
}

function readOfflineIssuer(o: {
  rootCert?: unknown;
  rootKey?: unknown;
  rootKeyPassword?: unknown;
}): { chain: Certificate[]; key: ReturnType<typeof loadPrivateKey> } | undefined {
  if (!o.rootCert && !o.rootKey) return undefined;
  if (!o.rootCert || !o.rootKey) throw new InputError('--root-cert and --root-key go together');
  const chain = certsIn(o.rootCert as string);
  const key = loadPrivateKey(readInputFile(o.rootKey as string), o.rootKeyPassword as string | undefined);
  const signer = chain.find((c) => keyMatchesSpki(key, c.spki));
  if (!signer) throw new InputError(`${o.rootKey} is not the key of any certificate in ${o.rootCert}`);
  return { chain: [signer, ...chain.filter((c) => c !== signer)], key };
}

function readPolicy(o: {
  policy?: string;
  allowDns: string[];
  allowIp: string[];
  allowUri: string[];
  allowEmail: string[];
  maxDays?: string;
  profiles?: string;
}): unknown {
  let p: Record<string, unknown> = {};
  if (o.policy) {
    const text = Buffer.from(readInputFile(o.policy)).toString('utf8');
    try {
      p = (parseYaml(text) ?? {}) as Record<string, unknown>;
    } catch (e) {
      throw new InputError(`${o.policy}: ${(e as Error).message}`);
    }
  }
  if (o.allowDns.length) p.dns = [...((p.dns as string[]) ?? []), ...o.allowDns];
  if (o.allowIp.length) p.ips = [...((p.ips as string[]) ?? []), ...o.allowIp];
  if (o.allowUri.length) p.uris = [...((p.uris as string[]) ?? []), ...o.allowUri];
  if (o.allowEmail.length) p.emails = [...((p.emails as string[]) ?? []), ...o.allowEmail];
  if (o.maxDays) p.maxDays = Number(o.maxDays);
  if (o.profiles) p.profiles = o.profiles.split(',').map((x) => x.trim());
  return p;
}

const policyFlags = (c: Command): Command =>
  c
    .option('--policy <file>', 'policy file (YAML or JSON, docs/ca.md)')
    .option('--allow-dns <pattern>', 'allowed DNS names (* one label, leading ** several); repeatable', collect, [])
    .option('--allow-ip <cidr>', 'allowed IP range; repeatable', collect, [])
    .option('--allow-uri <pattern>', 'allowed URIs, e.g. spiffe://cluster.local/ns/web/sa/*; repeatable', collect, [])
    .option('--allow-email <pattern>', 'allowed email addresses; repeatable', collect, [])
    .option('--max-days <n>', 'longest certificate lifetime')
    .option('--profiles <list>', 'allowed profiles: server,client,peer');

export function register(program: Command): void {
  const ca = program
    .command('ca')
    .description('the internal CA service: a CA per service, enrolment, revocation, CRL/OCSP, transparency log');

  ca.command('kek')
    .description('write a new key-encryption key (32 random bytes, hex) to a file, mode 0600')
    .requiredOption('--out <file>', 'where to write it')
    .option('--force', 'replace an existing file')
    .action((o: { out: string; force?: boolean }) => {
      writeOutputs([{ path: o.out, data: newKek(), secret: true }], { force: o.force === true });
      process.stderr.write(`wrote ${o.out}: keep it out of the database and its backups\n`);
    });

  policyFlags(
    storeOptions(
      ca
        .command('create <name>')
        .description('create a CA (trust zone) for a service: a root of its own, or under --parent / an offline root')
        .option('--key-type <type>', KEY_TYPES.join('|'), 'ecdsa-p256')
        .option('--subject <dn>', 'subject (default CN=<name> CA,O=Anchorage)')
        .option('--days <n>', 'CA lifetime in days (default 3650 for a root, 1825 under a parent)')
        .option('--parent <ca>', 'another CA in the store signs this one')
        .option('--root-cert <file>', 'an offline root (or intermediate) certificate that signs this CA once')
        .option('--root-key <file>', 'its key (read once, never stored)')
        .option('--root-key-password <pw>', 'password of --root-key (env:NAME, file:PATH, prompt)', secretArg('--root-key-password'))
        .option('--public-url <url>', 'base URL of `ca serve --public-listen`: issued certificates carry its CRL and OCSP addresses')
        .option(
          '--key-store <uri>',
          'make the CA key on a PKCS#11 token, never extractable: pkcs11:token=LABEL;object=LABEL (RFC 7512; default: sealed under --kek)',
        ),
    ),
  ).action(async (name: string, o: Record<string, string | string[] | undefined> & StoreOpts) => {
    const keyType = o.keyType as string as KeyType;
    if (!KEY_TYPES.includes(keyType)) throw new InputError(`--key-type must be one of ${KEY_TYPES.join(', ')}`);
    const offlineIssuer = readOfflineIssuer(o as { rootCert?: string });
    const policy = readPolicy(o as never);
    await withService(o, async (s) => {
      const info = await s.createCa({
        name,
        keyType,
        requester: requester(),
        policy,
        ...(o.subject ? { subject: o.subject as string } : {}),
        ...(o.days ? { days: Number(o.days) } : {}),
        ...(o.parent ? { parent: o.parent as string } : {}),
        ...(offlineIssuer ? { offlineIssuer } : {}),
        ...(o.publicUrl ? { publicUrl: o.publicUrl as string } : {}),
        ...(o.keyStore ? { keyStore: o.keyStore as string } : {}),
      });
      const where = o.keyStore ? `, key on PKCS#11 token` : '';
      process.stdout.write(`created CA ${info.name}: ${info.subject} (${info.keyType}${where}, until ${info.notAfter})\n`);
    });
  });

  storeOptions(ca.command('list').description('the CAs in the store'))
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action(async (o: StoreOpts & { output: string }) => {
      const fmt = checkFormat(o.output, ['table', 'json', 'yaml']);
      await withService(o, async (s) => {
        const cas = await s.listCas();
        const data = cas.map((c) => ({
          name: c.name,
          parent: c.parent,
          subject: c.subject,
          keyType: c.keyType,
          notAfter: c.notAfter,
          policy: c.policy,
        }));
        printOutput(data, fmt, () =>
          renderTable(
            ['NAME', 'SUBJECT', 'KEY', 'NOT AFTER', 'PARENT'],
            cas.map((c) => [c.name, c.subject, c.keyType, c.notAfter, c.parent ?? '']),
          ),
        );
      });
    });

  storeOptions(ca.command('chain <name>').description("write a CA's certificate chain (CA first, root last)"))
    .option('--out <file>', 'file to write (default: stdout)')
    .option('--root-only', 'only the root (the trust anchor clients install)')
    .option('--force', 'replace an existing file')
    .action(async (name: string, o: StoreOpts & { out?: string; rootOnly?: boolean; force?: boolean }) => {
      await withService(o, async (s) => {
        const info = await s.getCa(name);
        const certs = o.rootOnly ? [info.chain.at(-1) as Certificate] : info.chain;
        const pem = certs.map((c) => c.toPem()).join('');
        if (o.out) writeOutputs([{ path: o.out, data: pem }], { force: o.force === true });
        else process.stdout.write(pem);
      });
    });

  storeOptions(
    ca
      .command('bundle <name>')
      .description("the CA's trust anchors: the root of every generation not retired (old and new during a rotation)"),
  )
    .option('--out <file>', 'file to write (default: stdout)')
    .option('--force', 'replace an existing file')
    .action(async (name: string, o: StoreOpts & { out?: string; force?: boolean }) => {
      await withService(o, async (s) => {
        const pem = (await s.trustBundle(name)).map((c) => c.toPem()).join('');
        if (o.out) writeOutputs([{ path: o.out, data: pem }], { force: o.force === true });
        else process.stdout.write(pem);
      });
    });

  storeOptions(ca.command('generations <name>').description("the CA's keys over time: next, active, previous, retired"))
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action(async (name: string, o: StoreOpts & { output: string }) => {
      const fmt = checkFormat(o.output, ['table', 'json', 'yaml']);
      await withService(o, async (s) => {
        const gens = (await s.generations(name)).map(({ chain: _chain, ...g }) => g);
        printOutput(gens, fmt, () =>
          renderTable(
            ['GEN', 'STATE', 'KEY', 'NOT AFTER', 'SHA-256', 'SINCE'],
            gens.map((g) => [String(g.gen), g.state, g.keyType, g.notAfter, g.sha256.slice(0, 16), g.changedAt]),
          ),
        );
      });
    });

  const rotate = ca
    .command('rotate')
    .description('rotate a CA with overlap: begin (publish the new key), switch (issue with it), retire (drop the old)');
  storeOptions(
    rotate
      .command('begin <name>')
      .description('a new key and CA certificate, published in the trust bundle beside the current one; not issuing yet'),
  )
    .option('--key-type <type>', `${KEY_TYPES.join('|')} (default: the current one)`)
    .option('--days <n>', 'lifetime of the new CA certificate in days (default 3650 for a root, 1825 under a parent)')
    .option('--root-cert <file>', 'the offline issuer of a CA made under one')
    .option('--root-key <file>', 'its key (read once, never stored)')
    .option('--root-key-password <pw>', 'password of --root-key (env:NAME, file:PATH, prompt)', secretArg('--root-key-password'))
    .action(
      async (
        name: string,
        o: StoreOpts & { keyType?: string; days?: string; rootCert?: string; rootKey?: string; rootKeyPassword?: string },
      ) => {
        if (o.keyType !== undefined && !KEY_TYPES.includes(o.keyType as KeyType))
          throw new InputError(`--key-type must be one of ${KEY_TYPES.join(', ')}`);
        const offlineIssuer = readOfflineIssuer(o);
        await withService(o, async (s) => {
          const g = await s.rotateBegin({
            name,
            requester: requester(),
            ...(o.keyType ? { keyType: o.keyType as KeyType } : {}),
            ...(o.days ? { days: Number(o.days) } : {}),
            ...(offlineIssuer ? { offlineIssuer } : {}),
          });
          process.stdout.write(
            `CA ${name} generation ${g.gen} (${g.keyType}, until ${g.notAfter}) is next: distribute \`ca bundle ${name}\`, then \`ca rotate switch ${name}\`\n`,
          );
        });
      },
    );
  storeOptions(rotate.command('switch <name>').description('the next generation issues from now on; the old one stays trusted')).action(
    async (name: string, o: StoreOpts) => {
      await withService(o, async (s) => {
        const g = await s.rotateSwitch(name, requester());
        process.stdout.write(
          `CA ${name} issues with generation ${g.gen}; the previous one stays in the bundle until \`ca rotate retire ${name}\`\n`,
        );
      });
    },
  );
  storeOptions(rotate.command('retire <name>').description('drop the previous generation from the bundle and destroy its key'))
    .option('--generation <n>', 'which previous generation (default: all of them)')
    .option('--force', 'even while certificates it issued are still valid (they stop verifying)')
    .action(async (name: string, o: StoreOpts & { generation?: string; force?: boolean }) => {
      await withService(o, async (s) => {
        const gens = await s.retire(name, requester(), {
          ...(o.generation !== undefined ? { generation: Number(o.generation) } : {}),
          force: o.force === true,
        });
        process.stdout.write(`CA ${name}: generation ${gens.join(', ')} retired\n`);
      });
    });

  policyFlags(storeOptions(ca.command('policy <name>').description("replace a CA's policy"))).action(async (name: string, o: StoreOpts) => {
    await withService(o, async (s) => {
      const p = await s.setPolicy(name, readPolicy(o as never));
      process.stdout.write(`${JSON.stringify(p)}\n`);
    });
  });

  storeOptions(ca.command('token <ca>').description('a one-time bootstrap token for a first enrolment over the API (printed once)'))
    .requiredOption('--name <identity>', 'identity the token may enrol: DNS:…, IP:…, URI:…, EMAIL:…; repeatable', collect, [])
    .option('--profile <profile>', 'server|client|peer', 'server')
    .option('--ttl <duration>', 'lifetime (e.g. 15m, 1h, 7d)', '1h')
    .action(async (caName: string, o: StoreOpts & { name: string[]; profile: string; ttl: string }) => {
      await withService(o, async (s) => {
        const t = await s.createToken(caName, o.name, parseProfile(o.profile), parseDuration(o.ttl));
        process.stdout.write(`${t.token}\n`);
        process.stderr.write(`one-time token for ${o.name.join(', ')} on ${caName}, expires ${t.expiresAt}\n`);
      });
    });

  storeOptions(ca.command('issue <ca>').description('CLI enrolment: sign a CSR (or make a key and CSR) under the CA policy'))
    .option('--csr <file>', 'the certificate request (else a new key is made from --subject/--san)')
    .option('--subject <dn>', 'subject for a new key', '')
    .option('--san <name>', 'subjectAltName for a new key (DNS:…, IP:…, URI:…, EMAIL:…); repeatable', collect, [])
    .option('--key-type <type>', KEY_TYPES.join('|'), 'ecdsa-p256')
    .option('--profile <profile>', 'server|client|peer', 'server')
    .option('--days <n>', 'lifetime (default: the policy default)')
    .requiredOption('--out <file>', 'certificate (PEM, then the CA chain without the root)')
    .option('--key-out <file>', 'new key (default: beside --out)')
    .option('--force', 'replace existing files')
    .action(async (caName: string, o: StoreOpts & Record<string, string | string[] | boolean | undefined>) => {
      const outs: { path: string; data: string; secret?: boolean }[] = [];
      let csrPem: string;
      if (o.csr) csrPem = Buffer.from(readInputFile(o.csr as string)).toString('latin1');
      else {
        const kt = o.keyType as KeyType;
        if (!KEY_TYPES.includes(kt)) throw new InputError(`--key-type must be one of ${KEY_TYPES.join(', ')}`);
        const key = generateKey(kt).privateKey;
        csrPem = createCsr({ subject: o.subject as string, privateKey: key, sans: parseSans(o.san as string[]) }).toPem();
        outs.push({
          path: (o.keyOut as string) ?? `${(o.out as string).replace(/\.(crt|pem)$/, '')}.key`,
          data: key.export({ format: 'pem', type: 'pkcs8' }) as string,
          secret: true,
        });
      }
      await withService(o, async (s) => {
        const r = await s.issue({
          ca: caName,
          csr: csrPem,
          profile: parseProfile(o.profile as string),
          requester: requester(),
          ...(o.days ? { days: Number(o.days) } : {}),
        });
        outs.unshift({ path: o.out as string, data: [r.certificate, ...r.chain.slice(0, -1)].map((c) => c.toPem()).join('') });
        writeOutputs(outs, { force: o.force === true });
        process.stdout.write(`issued serial ${r.serial} (log entry ${r.logIndex}): ${identitiesOf(r.certificate.sans).join(', ')}\n`);
      });
    });

  storeOptions(ca.command('revoke <ca>').description('revoke by serial, or every current certificate of an identity'))
    .option('--serial <hex>', 'serial number')
    .option('--identity <id>', 'DNS:…, IP:…, URI:…, EMAIL:…')
    .option('--reason <reason>', CRL_REASONS.join('|'), 'unspecified')
    .action(async (caName: string, o: StoreOpts & { serial?: string; identity?: string; reason: string }) => {
      if (!CRL_REASONS.includes(o.reason as CrlReason)) throw new InputError(`--reason must be one of ${CRL_REASONS.join(', ')}`);
      await withService(o, async (s) => {
        const serials = await s.revoke({
          ca: caName,
          requester: requester(),
          reason: o.reason as CrlReason,
          ...(o.serial ? { serial: o.serial } : {}),
          ...(o.identity ? { identity: parseIdentity(o.identity) } : {}),
        });
        process.stdout.write(serials.length ? `revoked ${serials.join(', ')}\n` : 'already revoked\n');
      });
    });

  storeOptions(ca.command('crl <ca>').description('sign a fresh CRL'))
    .requiredOption('--out <file>', 'CRL (DER)')
    .option('--days <n>', 'nextUpdate, days from now', '1')
    .option('--force', 'replace an existing file')
    .action(async (caName: string, o: StoreOpts & { out: string; days: string; force?: boolean }) => {
      await withService(o, async (s) => {
        writeOutputs([{ path: o.out, data: await s.crl(caName, Number(o.days) * 86400) }], { force: o.force === true });
      });
    });

  storeOptions(
    ca
      .command('prune [ca]')
      .description(
        'remove the records of certificates (and bootstrap tokens) expired for longer than --expired-for; the transparency log keeps their entries',
      ),
  )
    .requiredOption('--expired-for <duration>', 'retention after expiry, e.g. 90d (0: everything expired)')
    .action(async (caName: string | undefined, o: StoreOpts & { expiredFor: string }) => {
      const retainDays = parseDuration(o.expiredFor) / 86400;
      await withService(o, async (s) => {
        const r = await s.prune({ retainDays, requester: requester(), ...(caName ? { ca: caName } : {}) });
        process.stdout.write(
          `pruned ${r.certificates} certificate record(s) and ${r.tokens} token(s) expired before ${r.cutoff} (log entry ${r.logIndex})\n`,
        );
      });
    });

  storeOptions(ca.command('audit [ca]').description('the audit log, newest first'))
    .option('--limit <n>', 'how many', '50')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action(async (caName: string | undefined, o: StoreOpts & { limit: string; output: string }) => {
      const fmt = checkFormat(o.output, ['table', 'json', 'yaml']);
      await withService(o, async (s) => {
        const rows = await s.audit(caName, Number(o.limit));
        printOutput(rows, fmt, () =>
          renderTable(
            ['#', 'AT', 'CA', 'ACTION', 'OUTCOME', 'REQUESTER', 'SERIAL', 'REASON'],
            rows.map((r) => ['log_index', 'at', 'ca', 'action', 'outcome', 'requester', 'serial', 'reason'].map((k) => String(r[k] ?? ''))),
          ),
        );
      });
    });

  const log = ca.command('log').description('the transparency log');
  storeOptions(log.command('export').description('the whole log with a signed tree head (for `ca log verify`)'))
    .requiredOption('--out <file>', 'JSON file')
    .option('--force', 'replace an existing file')
    .action(async (o: StoreOpts & { out: string; force?: boolean }) => {
      await withService(o, async (s) => {
        const e = await s.exportLog();
        writeOutputs([{ path: o.out, data: `${JSON.stringify(e)}\n` }], { force: o.force === true });
        process.stdout.write(`${e.treeHead.treeSize} entries, root ${e.treeHead.rootHash}\n`);
      });
    });
  log
    .command('verify <file>')
    .description("check an exported log offline: tree head signature, root, consistency with an older head, a certificate's inclusion")
    .option('--cert <file>', 'prove this certificate is in the log')
    .option('--since <file>', 'an older tree head (or exported log): prove this log extends it')
    .option('--log-key <file>', 'pin the log key (PEM) instead of trusting the one in the file')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action((file: string, o: { cert?: string; since?: string; logKey?: string; output: string }) => {
      const fmt = checkFormat(o.output, ['table', 'json', 'yaml']);
      const text = (p: string) => Buffer.from(readInputFile(p)).toString('utf8');
      const report = verifyLog(parseLogExport(text(file)), {
        ...(o.cert ? { cert: certsIn(o.cert)[0] as Certificate } : {}),
        ...(o.since ? { since: parseTreeHead(text(o.since)) } : {}),
        ...(o.logKey ? { logKeyPem: text(o.logKey) } : {}),
      });
      printOutput(report, fmt, () => {
        const lines = [`tree size ${report.treeSize}, root ${report.rootHash}: ${report.ok ? 'verified' : 'FAILED'}`];
        if (report.consistentWith)
          lines.push(`consistent with the tree head of ${report.consistentWith.treeSize}: ${report.consistentWith.ok ? 'yes' : 'NO'}`);
        const c = report.certificate;
        if (c)
          lines.push(
            c.included
              ? `certificate ${c.serial} included at index ${c.index}${c.revoked ? ' (revoked since)' : ''}`
              : `certificate ${c.sha256} NOT in the log`,
          );
        for (const p of report.problems) lines.push(`problem: ${p}`);
        return `${lines.join('\n')}\n`;
      });
      if (!report.ok) process.exitCode = 1;
    });

  storeOptions(ca.command('serve').description('the CA over HTTP: mTLS API (enrol, renew) and public CRL/OCSP/log endpoints'))
    .option('--listen <host:port>', 'the HTTPS API', '127.0.0.1:8443')
    .option('--public-listen <host:port>', 'plain HTTP: CRL, OCSP, CA certificates, the log', '127.0.0.1:8080')
    .requiredOption('--tls-ca <ca>', "the CA that issues the API's own certificate (its policy must allow --server-name)")
    .requiredOption('--server-name <identity>', "the API's names: DNS:…, IP:…; repeatable", collect, [])
    .option('--crl-refresh <seconds>', 'seconds a CRL is served before a fresh one is signed', '300')
    .option(
      '--reload <seconds>',
      "seconds between re-reads of the client CA names (every CA generation not retired) and renewal checks of the API's own certificate; SIGHUP reloads at once; 0: only on SIGHUP",
      '30',
    )
    .option(
      '--prune-expired-for <duration>',
      'prune (as `ca prune`) at start and every 6 hours: records of certificates expired for longer than this, e.g. 90d',
    )
    .option('--acme', 'serve ACME (RFC 8555, http-01 and tls-alpn-01) at /acme/<ca>/directory on the API listener')
    .option('--acme-http-port <port>', 'port http-01 validation connects to', '80')
    .option('--acme-tls-port <port>', 'port tls-alpn-01 validation connects to', '443')
    .option('--acme-resolve <host>', 'connect http-01 validation to this host instead of resolving the name')
    .action(
      async (
        o: StoreOpts & {
          listen: string;
          publicListen: string;
          tlsCa: string;
          serverName: string[];
          crlRefresh: string;
          reload: string;
          pruneExpiredFor?: string;
          acme?: boolean;
          acmeHttpPort: string;
          acmeTlsPort: string;
          acmeResolve?: string;
        },
      ) => {
        const api = parseListen(o.listen, '--listen');
        const pub = parseListen(o.publicListen, '--public-listen');
        const s = await openService(o, (line) => process.stderr.write(`audit ${line}\n`));
        const port = (v: string, flag: string): number => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InputError(`${flag}: '${v}' is not a port (1-65535)`);
          return n;
        };
        const reloadSeconds = Number(o.reload);
        if (!(reloadSeconds >= 0 && reloadSeconds <= 86400)) throw new InputError(`--reload: '${o.reload}' must be 0 to 86400 seconds`);
        const names = o.serverName
          .map(parseIdentity)
          .map((n) => n.replace(/^(DNS|IP|URI|EMAIL):/, (m) => `${m.slice(0, -1).toLowerCase()}:`));
        // The API's own identity: a fresh key and certificate from --tls-ca, at start and again at two thirds of its life.
        const identity = async () => {
          const key = generateKey('ecdsa-p256').privateKey;
          const csr = createCsr({ subject: '', privateKey: key, sans: parseSans(names) }).toPem();
          const own = await s.issue({ ca: o.tlsCa, csr, profile: 'server', requester: 'serve' });
          return { chain: [own.certificate, ...own.chain.slice(0, -1)], key };
        };
        const server = await startCaServer({
          service: s,
          tls: await identity(),
          renewTls: identity,
          reloadSeconds,
          apiHost: api.host,
          apiPort: api.port,
          publicHost: pub.host,
          publicPort: pub.port,
          crlRefreshSeconds: Number(o.crlRefresh),
          ...(o.acme
            ? {
                acme: {
                  httpPort: port(o.acmeHttpPort, '--acme-http-port'),
                  tlsPort: port(o.acmeTlsPort, '--acme-tls-port'),
                  ...(o.acmeResolve ? { resolve: o.acmeResolve } : {}),
                },
              }
            : {}),
          log: (l) => process.stderr.write(`${l}\n`),
        });
        let pruner: NodeJS.Timeout | undefined;
        if (o.pruneExpiredFor !== undefined) {
          const retainDays = parseDuration(o.pruneExpiredFor) / 86400;
          const prune = () =>
            s.prune({ retainDays, requester: 'serve' }).then(
              (r) =>
                process.stderr.write(
                  `pruned ${r.certificates} certificate record(s) and ${r.tokens} token(s) expired before ${r.cutoff}\n`,
                ),
              (e: unknown) => process.stderr.write(`prune failed (retried in 6 hours): ${(e as Error).message}\n`),
            );
          void prune();
          pruner = setInterval(prune, 6 * 3600_000);
          pruner.unref();
        }
        process.on('SIGHUP', () => {
          server.reload().catch((e: unknown) => process.stderr.write(`reload failed: ${(e as Error).message}\n`));
        });
        process.stdout.write(`api https://${api.host}:${server.apiPort} public http://${pub.host}:${server.publicPort}\n`);
        const stop = async () => {
          if (pruner) clearInterval(pruner);
          await server.close();
          s.closeKeys();
          await s.store.close();
          process.exit(0);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        await new Promise(() => undefined);
      },
    );

  leaseFlags(
    storeOptions(
      ca
        .command('k8s-signer')
        .description('sign approved Kubernetes CSRs for the signer names <domain>/<ca> (approves nothing itself), with leader election'),
    ),
    { name: 'anchorage-ca-signer', without: 'sign', leaseNamespace: { help: 'namespace of the leader Lease', default: 'kube-system' } },
  )
    .option('--kubeconfig <files>', 'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, or the in-cluster service account)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--signer-domain <domain>', 'signer names are <domain>/<ca>', 'anchorage.dev')
    .option(
      '--publish-namespace <ns>',
      "publish each CA's trust bundle (old and new roots during a rotation) as ConfigMap anchorage-ca-<ca> here",
    )
    .option('--publish-interval <s>', 'seconds between checks for a changed trust bundle', '30')
    .option('--health-host <addr>', 'address of /healthz /readyz /metrics', '0.0.0.0')
    .option('--health-port <port>', 'port of /healthz /readyz /metrics (0: any free port, logged)', '8082')
    .option('--log-level <level>', 'trace|debug|info|warn|error', 'info')
    .action(
      async (
        o: StoreOpts &
          LeaseCliOptions & {
            kubeconfig?: string;
            context?: string;
            signerDomain: string;
            publishNamespace?: string;
            publishInterval: string;
            healthHost: string;
            healthPort: string;
            logLevel: string;
          },
      ) => {
        if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(o.signerDomain))
          throw new InputError(`--signer-domain '${o.signerDomain}' must be a DNS name`);
        const healthPort = Number(o.healthPort);
        if (!Number.isInteger(healthPort) || healthPort < 0 || healthPort > 65535)
          throw new InputError(`--health-port: '${o.healthPort}' is not a port`);
        const timing = leaseTiming(o);
        const [{ clientFrom }, { createLogger }, server, { CsrSigner }] = await Promise.all([
          import('../../kube/config.ts'),
          import('../../kube/log.ts'),
          import('../../kube/server.ts'),
          import('../../ca/k8s-signer.ts'),
        ]);
        const log = createLogger({ level: o.logLevel, name: 'anchorage-ca-signer' });
        const s = await openService(o, (line) => log.info({ audit: JSON.parse(line) }, 'audit'));
        const client = clientFrom({
          ...(o.kubeconfig !== undefined && { kubeconfig: o.kubeconfig }),
          ...(o.context !== undefined && { context: o.context }),
          userAgent: 'anchorage-ca-signer',
        });
        const registry = server.newRegistry();
        const interval = Number(o.publishInterval);
        if (!(interval >= 1 && interval <= 86400))
          throw new InputError(`--publish-interval: '${o.publishInterval}' is not 1 to 86400 seconds`);
        const signer = new CsrSigner({
          client,
          service: s,
          log,
          registry,
          domain: o.signerDomain,
          ...(o.publishNamespace ? { publishNamespace: o.publishNamespace, publishIntervalMs: interval * 1000 } : {}),
        });
        const identity = replicaIdentity(o);
        let elector: Leading | undefined;
        let stopping = false;
        const health = await server.startHealthServer({
          host: o.healthHost,
          port: healthPort,
          registry,
          ready: { caches: () => signer.synced },
        });
        log.info(
          { port: health.port, host: o.healthHost, identity, signerNames: `${o.signerDomain}/<ca>` },
          'serving /healthz /readyz /metrics',
        );
        server.onShutdown(async (signal) => {
          stopping = true;
          log.info({ signal }, 'shutting down');
          await elector?.stop();
          await signer.stop();
          await health.close();
          client.close();
          s.closeKeys();
          await s.store.close();
        });
        await signer.start();
        elector = await lead(client, o, {
          namespace: 'kube-system',
          timing,
          log,
          start: () => signer.startWorkers(),
          stopping: () => stopping,
        });
      },
    );

  const clientFlags = (c: Command): Command =>
    c
      .requiredOption('--url <url>', 'https://host:port of `ca serve`')
      .requiredOption('--trust <file>', "the root that issued the API's certificate (PEM)")
      .requiredOption('--ca <name>', 'the CA (service) to enrol with')
      .option('--key-type <type>', KEY_TYPES.join('|'), 'ecdsa-p256')
      .requiredOption('--out <file>', 'the new certificate (PEM, with the chain without the root)')
      .option('--key-out <file>', 'the new key (default: beside --out)')
      .option('--force', 'replace existing files');

  const finish = (
    o: { out: string; keyOut?: string; force?: boolean },
    key: ReturnType<typeof generateKey>['privateKey'],
    r: { certificate: string; chain: string; serial: string },
  ) => {
    const chainNoRoot = r.chain
      .split(/(?<=-----END CERTIFICATE-----\n?)/)
      .filter((x) => x.trim())
      .slice(0, -1)
      .join('');
    writeOutputs(
      [
        { path: o.out, data: r.certificate + chainNoRoot },
        {
          path: o.keyOut ?? `${o.out.replace(/\.(crt|pem)$/, '')}.key`,
          data: key.export({ format: 'pem', type: 'pkcs8' }) as string,
          secret: true,
        },
      ],
      { force: o.force === true },
    );
    process.stdout.write(`serial ${r.serial}\n`);
  };

  clientFlags(ca.command('enroll').description('first enrolment over the API with a one-time bootstrap token'))
    .requiredOption('--token <token>', 'the bootstrap token (env:NAME, file:PATH)', secretArg('--token'))
    .requiredOption('--name <identity>', 'DNS:…, IP:…, URI:…, EMAIL:…; repeatable', collect, [])
    .option('--subject <dn>', 'subject (default: CN = the first DNS name)')
    .option('--profile <profile>', 'server|client|peer (default: the token’s)')
    .action(async (o: Record<string, string | string[] | boolean | undefined>) => {
      const kt = o.keyType as KeyType;
      if (!KEY_TYPES.includes(kt)) throw new InputError(`--key-type must be one of ${KEY_TYPES.join(', ')}`);
      const key = generateKey(kt).privateKey;
      const names = (o.name as string[]).map(parseIdentity);
      const sans = parseSans(names.map((n) => n.replace(/^(DNS|IP|URI|EMAIL):/, (m) => `${m.slice(0, -1).toLowerCase()}:`)));
      const subject = (o.subject as string | undefined) ?? (sans.dns[0] ? `CN=${sans.dns[0]}` : '');
      const csr = createCsr({ subject, privateKey: key, sans }).toPem();
      const trust = Buffer.from(readInputFile(o.trust as string)).toString('latin1');
      const r = await postJson({ url: o.url as string, trust }, '/v1/enroll', {
        ca: o.ca,
        csr,
        token: o.token,
        ...(o.profile ? { profile: parseProfile(o.profile as string) } : {}),
      });
      finish(o as never, key, r);
    });

  clientFlags(ca.command('renew').description('renew with the current certificate (mTLS): same identities, a new key'))
    .requiredOption('--cert <file>', 'the current certificate')
    .requiredOption('--key <file>', 'its key')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const kt = o.keyType as KeyType;
      if (!KEY_TYPES.includes(kt)) throw new InputError(`--key-type must be one of ${KEY_TYPES.join(', ')}`);
      const current = certsIn(o.cert as string)[0] as Certificate;
      const certPem = Buffer.from(readInputFile(o.cert as string)).toString('latin1');
      const keyPem = Buffer.from(readInputFile(o.key as string)).toString('latin1');
      const key = generateKey(kt).privateKey;
      const csr = createCsr({ subject: current.subjectRdns, privateKey: key, sans: current.sans }).toPem();
      const trust = Buffer.from(readInputFile(o.trust as string)).toString('latin1');
      const r = await postJson({ url: o.url as string, trust, cert: certPem, key: keyPem }, '/v1/renew', { ca: o.ca, csr });
      finish(o as never, key, r);
    });
}
