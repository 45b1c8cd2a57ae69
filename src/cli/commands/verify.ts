// `anchorage verify <leaf>`: is this certificate trusted, through which path, and if not, why.
// Exit 0 trusted, 1 not trusted, 2 bad input (InputError, mapped by main.ts).
import { rootCertificates } from 'node:tls';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import type { AnchorInput } from '../../trust/pool.ts';
import { type CertSummary, type VerifyResult, verifyChain } from '../../trust/verify.ts';
import { Certificate } from '../../x509/certificate.ts';
import type { Crl } from '../../x509/crl.ts';
import { collect, parseAt } from '../args.ts';
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

/** Read the files and verify. The first certificate of the leaf file is the leaf; the rest join the intermediates. */
export function verifyFiles(leafPath: string, o: VerifyCliOptions = {}): VerifyResult {
  const leafFile = readAll([leafPath]);
  const [leaf, ...bundled] = leafFile.certs;
  if (!leaf) throw new InputError(`${leafPath}: no certificate found`);
  const roots = o.roots?.length ? readAll(o.roots) : undefined;
  const anchors: AnchorInput[] = roots ? [...roots.certs, ...roots.keys] : defaultRoots();
  if (roots && anchors.length === 0) throw new InputError(`--roots: no certificate or public key found in ${o.roots?.join(', ')}`);
  const inter = o.intermediates?.length ? readAll(o.intermediates).certs : [];
  const crls = o.crl?.length ? readAll(o.crl).crls : [];
  if (o.crl?.length && crls.length === 0) throw new InputError(`--crl: no CRL found in ${o.crl.join(', ')}`);
  const maxDepth = parseDepth(o.maxDepth);
  return verifyChain({
    leaf,
    anchors,
    intermediates: [...bundled, ...inter],
    ...(o.purpose !== undefined ? { purpose: o.purpose } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
    ...(o.at !== undefined ? { at: parseAt(o.at) } : {}),
    ...(crls.length ? { crls } : {}),
    ...(o.requireCrl ? { revocation: 'require' as const } : {}),
    ...(maxDepth !== undefined ? { maxDepth } : {}),
  });
}

export function exitCodeOf(r: VerifyResult): number {
  return r.trusted ? 0 : 1;
}

const chain = (path: readonly CertSummary[]): string => path.map((c) => c.subject || '(empty subject)').join(' <- ');

export function renderVerify(r: VerifyResult): string {
  const leaf = r.bestPath[0]?.subject ?? '';
  const ctx = [`purpose ${r.purpose}`, ...(r.host ? [`host ${r.host}`] : []), `at ${formatDate(r.at)}`].join(', ');
  const out: string[] = [`${r.trusted ? 'TRUSTED' : `NOT TRUSTED (${r.code})`}: ${leaf} (${ctx})`, ''];
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
    .option('--purpose <purpose>', 'server, client, any, or an extended key usage OID', 'any')
    .option('--host <name>', 'DNS name, IP address or URI the leaf must name')
    .option('--at <time>', 'check at this time (ISO 8601 or Unix seconds) instead of now')
    .option('--crl <file>', 'CRLs to check revocation against (repeatable)', collect)
    .option('--require-crl', 'fail when a CA on the path has no CRL among --crl (like openssl -crl_check_all)')
    .option('--max-depth <n>', 'most intermediates on a path', '10')
    .option('-o, --output <format>', 'table|json|yaml', 'table')
    .action((leafPath: string, o: VerifyCliOptions & { output: string }) => {
      const format = checkFormat(o.output, ['table', 'json', 'yaml']);
      const result = verifyFiles(leafPath, o);
      printOutput(result, format, () => renderVerify(result));
      process.exitCode = exitCodeOf(result);
    });
}
