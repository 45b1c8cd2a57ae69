// `anchorage verify <leaf>`: is this certificate trusted, through which path, and if not, why.
// Exit 0 trusted, 1 not trusted, 2 bad input (InputError, mapped by main.ts).
import { rootCertificates } from 'node:tls';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { readKubeconfig } from '../../k8s/kubeconfig.ts';
import type { ReasonCode } from '../../trust/codes.ts';
import { type AnchorInput, TrustIndex } from '../../trust/pool.ts';
import { PROFILE_CLIENTS, PROFILES, type Profile, parseProfile } from '../../trust/profiles.ts';
import { type CertSummary, type Failure, type VerifyResult, verifyChain } from '../../trust/verify.ts';
import { Certificate } from '../../x509/certificate.ts';
import type { Crl } from '../../x509/crl.ts';
import { collect, parseAt } from '../args.ts';
import { readInputFile } from '../files.ts';
import { readInputs } from '../inputs.ts';
import { checkFormat, printOutput, renderTable } from '../output.ts';
import { formatDate } from '../text.ts';

export interface VerifyCliOptions {
  roots?: string[];
  intermediates?: string[];
  crl?: string[];
  purpose?: string;
  host?: string;
  at?: string;
  requireCrl?: boolean;
  maxDepth?: string;
  profile?: string;
  /** Kubeconfigs: whose client certificate to verify, and which cluster's CA to show. */
  user?: string;
  cluster?: string;
}

/** What a kubeconfig given as the leaf holds: the client certificate is verified, the server's CA shown. */
export interface KubeconfigView {
  user: string;
  cluster?: string;
  server?: string;
  /** The CA the client trusts for the server (certificate-authority-data). */
  serverCA?: { subject: string; notAfter: Date; isCA: boolean; selfSigned: boolean; sha256: string; inRoots?: boolean };
  /** The roots used when --roots was not given: the kubeconfig's own cluster CA. */
  rootsFromKubeconfig: boolean;
}

/** One profile's verdict on the same inputs: which clients accept the certificate. */
export interface ClientVerdict {
  profile: Profile;
  /** Who the profile speaks for ("Go-based clients such as kubelet"). */
  clients: string;
  trusted: boolean;
  code: ReasonCode | null;
  /** A few words on why not; null when trusted. */
  reason: string | null;
}

/** The chosen profile's result plus every profile's verdict. */
export interface VerifyReport extends VerifyResult {
  profiles: ClientVerdict[];
  kubeconfig?: KubeconfigView;
}

// A few words per code, for the one-line verdicts (the full messages are in `reasons`).
const SHORT: Record<ReasonCode, string> = {
  ISSUER_NOT_FOUND: 'issuer not found',
  NAME_MISMATCH_KEY: 'issuer name matches but its key does not',
  SIGNATURE_INVALID: 'signature does not verify',
  UNTRUSTED_ROOT: 'self-signed root is not trusted',
  LOOP: 'cross-signatures loop',
  DEPTH_EXCEEDED: 'path too deep',
  EXPIRED: 'expired',
  NOT_YET_VALID: 'not yet valid',
  NOT_A_CA: 'issuer is not a CA',
  PATH_LEN_EXCEEDED: 'pathLen exceeded',
  MISSING_KEY_CERT_SIGN: 'issuer lacks keyCertSign',
  EKU_MISMATCH: 'extended key usage does not allow the purpose',
  KEY_USAGE_MISMATCH: 'keyUsage does not allow the purpose',
  NAME_CONSTRAINT_VIOLATION: 'name constraints violated',
  HOST_MISMATCH: 'host name mismatch',
  UNKNOWN_CRITICAL_EXTENSION: 'unknown critical extension',
  MALFORMED_CERTIFICATE: 'malformed certificate',
  INSECURE_SIGNATURE_ALGORITHM: 'insecure signature algorithm',
  UNSUPPORTED_SIGNATURE_ALGORITHM: 'unsupported signature algorithm',
  PROFILE_VIOLATION: 'strict profile rule broken',
  REVOKED: 'revoked',
  CRL_EXPIRED: 'CRL expired',
  CRL_NOT_YET_VALID: 'CRL not yet valid',
  CRL_SIGNATURE_INVALID: 'CRL signature does not verify',
  CRL_MISSING_CRL_SIGN: 'CRL issuer lacks cRLSign',
  CRL_UNKNOWN_CRITICAL_EXTENSION: 'CRL has an unknown critical extension',
  CRL_MISSING: 'CRL missing',
};

function shortReason(f: Failure | undefined): string {
  if (!f) return SHORT.ISSUER_NOT_FOUND;
  const what = f.detail ?? SHORT[f.code];
  return f.rule ? `${what} (${f.rule})` : what;
}

function verdictOf(r: VerifyResult): ClientVerdict {
  const best = r.candidates[0];
  return {
    profile: r.profile,
    clients: PROFILE_CLIENTS[r.profile],
    trusted: r.trusted,
    code: r.code,
    reason: r.trusted ? null : shortReason(best?.failures[0]),
  };
}

type Read = { certs: Certificate[]; keys: AnchorInput[]; crls: Crl[] };

function readAll(paths: readonly string[]): Read {
  const out: Read = { certs: [], keys: [], crls: [] };
  for (const r of readInputs(paths, { strict: true })) {
    for (const o of r.result?.objects ?? []) {
      if (o.kind === 'certificate') out.certs.push(o.cert);
      else if (o.kind === 'public-key') out.keys.push({ publicKey: o.key });
      else if (o.kind === 'crl') out.crls.push(o.crl);
    }
  }
  return out;
}

export { parseAt };

function parseDepth(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new InputError(`--max-depth: '${s}' is not a whole number`);
  return Number(s);
}

// Node's bundled Mozilla roots: the default trust store when --roots is not given, as Go uses the system's.
function defaultRoots(): Certificate[] {
  return rootCertificates.map((pem) => new Certificate(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')));
}

/**
 * Read the files and verify under every profile. The first certificate of the leaf file is the leaf;
 * the rest join the intermediates. The result is the chosen profile's (default kubernetes).
 */
/** A kubeconfig as the leaf: the chosen user's client certificate, and the chosen cluster's CA. */
function fromKubeconfig(
  path: string,
  o: VerifyCliOptions,
): { leaf: Certificate; bundled: Certificate[]; view: KubeconfigView; ca: Certificate[] } | undefined {
  const r = readInputs([path], { strict: true })[0]?.result;
  if (r?.format !== 'kubeconfig') return undefined;
  const kc = readKubeconfig(Buffer.from(readInputFile(path)).toString('utf8'));
  const at = (loc: string) =>
    r.objects.filter((x) => x.kind === 'certificate' && x.location.startsWith(loc)).map((x) => (x as { cert: Certificate }).cert);
  const users = [
    ...new Set(
      kc.embedded.filter((e) => e.field === 'client-certificate-data').map((e) => /^users\[(.*)\]\./.exec(e.location)?.[1] as string),
    ),
  ];
  const current = kc.contexts.find((c) => c.name === kc.currentContext);
  const user = o.user ?? (current?.user && users.includes(current.user) ? current.user : users.length === 1 ? users[0] : undefined);
  if (!users.length) throw new InputError(`${path}: the kubeconfig holds no client certificate (client-certificate-data)`);
  if (!user) throw new InputError(`${path}: several users hold client certificates; choose one with --user (${users.join(', ')})`);
  if (!users.includes(user)) throw new InputError(`${path}: no user '${user}' with a client certificate (${users.join(', ')})`);
  const clusters = kc.servers.map((x) => x.cluster);
  const cluster = o.cluster ?? current?.cluster ?? (clusters.length === 1 ? clusters[0] : undefined);
  if (o.cluster && !clusters.includes(o.cluster))
    throw new InputError(`${path}: no cluster '${o.cluster}' (${clusters.join(', ') || 'none'})`);
  const [leaf, ...bundled] = at(`users[${user}].client-certificate-data`);
  if (!leaf) throw new InputError(`${path}: users[${user}] has no readable client certificate`);
  const ca = cluster ? at(`clusters[${cluster}].certificate-authority-data`) : [];
  const view: KubeconfigView = { user, rootsFromKubeconfig: false };
  if (cluster) view.cluster = cluster;
  const server = kc.servers.find((x) => x.cluster === cluster)?.server;
  if (server) view.server = server;
  const first = ca[0];
  if (first)
    view.serverCA = {
      subject: first.subject,
      notAfter: first.notAfter,
      isCA: first.isCA,
      selfSigned: first.selfSigned,
      sha256: first.sha256,
    };
  return { leaf, bundled, view, ca };
}

export function verifyFiles(leafPath: string, o: VerifyCliOptions = {}): VerifyReport {
  const chosen = parseProfile(o.profile);
  const kube = fromKubeconfig(leafPath, o);
  if (!kube && (o.user || o.cluster)) throw new InputError(`--user/--cluster: ${leafPath} is not a kubeconfig`);
  const leafFile = kube ? { certs: [kube.leaf, ...kube.bundled] } : readAll([leafPath]);
  const [leaf, ...bundled] = leafFile.certs;
  if (!leaf) throw new InputError(`${leafPath}: no certificate found`);
  if (kube && o.purpose === undefined) o = { ...o, purpose: 'client' };
  const roots = o.roots?.length ? readAll(o.roots) : undefined;
  // A kubeconfig without --roots: its own cluster CA (kubeadm signs clients and the server with one CA).
  const kubeRoots = kube && !roots && kube.ca.length ? kube.ca : undefined;
  if (kube) {
    kube.view.rootsFromKubeconfig = !!kubeRoots;
    if (roots && kube.view.serverCA) {
      const sha = kube.view.serverCA.sha256;
      kube.view.serverCA.inRoots = roots.certs.some((c) => c.sha256 === sha);
    }
  }
  const anchors: AnchorInput[] = roots ? [...roots.certs, ...roots.keys] : (kubeRoots ?? defaultRoots());
  if (roots && anchors.length === 0) throw new InputError(`--roots: no certificate or public key found in ${o.roots?.join(', ')}`);
  const inter = o.intermediates?.length ? readAll(o.intermediates).certs : [];
  const crls = o.crl?.length ? readAll(o.crl).crls : [];
  if (o.crl?.length && crls.length === 0) throw new InputError(`--crl: no CRL found in ${o.crl.join(', ')}`);
  const maxDepth = parseDepth(o.maxDepth);
  const index = new TrustIndex(anchors, [...bundled, ...inter]);
  const run = (profile: Profile): VerifyResult =>
    verifyChain({
      leaf,
      index,
      profile,
      ...(o.purpose !== undefined ? { purpose: o.purpose } : {}),
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.at !== undefined ? { at: parseAt(o.at) } : {}),
      ...(crls.length ? { crls } : {}),
      ...(o.requireCrl ? { revocation: 'require' as const } : {}),
      ...(maxDepth !== undefined ? { maxDepth } : {}),
    });
  const results = new Map(PROFILES.map((p) => [p, run(p)]));
  const main = results.get(chosen) as VerifyResult;
  return { ...main, profiles: PROFILES.map((p) => verdictOf(results.get(p) as VerifyResult)), ...(kube ? { kubeconfig: kube.view } : {}) };
}

export function exitCodeOf(r: VerifyResult): number {
  return r.trusted ? 0 : 1;
}

const chain = (path: readonly CertSummary[]): string => path.map((c) => c.subject || '(empty subject)').join(' <- ');

export function renderVerify(r: VerifyResult | VerifyReport): string {
  const leaf = r.bestPath[0]?.subject ?? '';
  const ctx = [`profile ${r.profile}`, `purpose ${r.purpose}`, ...(r.host ? [`host ${r.host}`] : []), `at ${formatDate(r.at)}`].join(', ');
  const out: string[] = [`${r.trusted ? 'TRUSTED' : `NOT TRUSTED (${r.code})`}: ${leaf} (${ctx})`, ''];
  if ('kubeconfig' in r && r.kubeconfig) {
    const k = r.kubeconfig;
    out.push(
      `Kubeconfig: client certificate of user ${k.user}${k.cluster ? `, cluster ${k.cluster}` : ''}${k.server ? ` (${k.server})` : ''}`,
    );
    if (k.serverCA)
      out.push(
        `  server CA (what this client trusts): ${k.serverCA.subject}, expires ${formatDate(k.serverCA.notAfter)}${k.serverCA.isCA ? '' : ', NOT a CA certificate'}${k.serverCA.inRoots === false ? ', not among --roots' : ''}`,
      );
    else out.push('  server CA: none embedded (the client uses the system roots)');
    if (k.rootsFromKubeconfig)
      out.push(
        "  roots: the kubeconfig's cluster CA (give --roots with the apiserver's --client-ca-file to check what the server accepts)",
      );
    out.push('');
  }
  if ('profiles' in r) {
    out.push('Clients:');
    const width = Math.max(...r.profiles.map((p) => p.clients.length + p.profile.length + 3));
    for (const p of r.profiles)
      out.push(`  ${`${p.clients} (${p.profile}):`.padEnd(width + 1)} ${p.trusted ? 'trusted' : `refused, ${p.reason}`}`);
    out.push('');
  }
  out.push(r.trusted ? 'Path:' : 'Closest path:');
  const rows = r.bestPath.map((c) => [
    c.role,
    c.subject || '(empty subject)',
    c.notAfter ? formatDate(c.notAfter) : '-',
    c.sha256 ? c.sha256.slice(0, 16) : `key ${c.spkiSha256.slice(0, 12)}`,
  ]);
  out.push(renderTable(['ROLE', 'SUBJECT', 'NOT AFTER', 'SHA-256'], rows).trimEnd());
  const rejected = r.candidates.filter((c) => !c.ok);
  if (rejected.length) {
    out.push('', `Rejected candidate paths (${rejected.length}):`);
    rejected.forEach((c, i) => {
      out.push(`  ${i + 1}. ${chain(c.path)}${c.complete ? '' : ' (no anchor reached)'}`);
      for (const f of c.failures) out.push(`     step ${f.step} ${f.code}: ${f.message}`);
    });
  }
  return `${out.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('build and validate every path from a leaf certificate to the trust anchors; exit 0 trusted, 1 not, 2 bad input')
    .argument('<leaf>', 'leaf certificate (PEM, DER, ...); further certificates in the file are used as intermediates')
    .option('--roots <file>', 'trust anchors: certificates or bare PUBLIC KEYs (repeatable; default: the bundled Mozilla roots)', collect)
    .option('--intermediates <file>', 'untrusted intermediate certificates (repeatable)', collect)
    .option('--purpose <purpose>', 'server, client, any, or an extended key usage OID (default: any; client for a kubeconfig)')
    .option('--host <name>', 'DNS name, IP address or URI the leaf must name')
    .option('--at <time>', 'check at this time (ISO 8601 or Unix seconds) instead of now')
    .option('--crl <file>', 'CRLs to check revocation against (repeatable)', collect)
    .option('--require-crl', 'fail when a CA on the path has no CRL among --crl (like openssl -crl_check_all)')
    .option('--max-depth <n>', 'most intermediates on a path', '10')
    .option(
      '--profile <profile>',
      "whose rules decide the exit code: kubernetes (Go's crypto/x509, as kubelet and kube-apiserver), openssl, strict (RFC 5280 + CA/B rules); every profile's verdict is shown",
      'kubernetes',
    )
    .option('--user <name>', "kubeconfig: whose client certificate to verify (default: the current context's user)")
    .option('--cluster <name>', "kubeconfig: whose server CA to show (default: the current context's cluster)")
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action((leafPath: string, o: VerifyCliOptions & { output: string }) => {
      const format = checkFormat(o.output, ['table', 'json', 'yaml']);
      const result = verifyFiles(leafPath, o);
      printOutput(result, format, () => renderVerify(result));
      process.exitCode = exitCodeOf(result);
    });
}
