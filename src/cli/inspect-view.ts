// What `inspect` shows (and `demo` prints): the report over the inputs, and its human rendering.
import { stringifyYaml as stringify } from '../common/yaml.ts';
import {
  buildReport,
  type CertMatch,
  INSPECT_SCHEMA_VERSION,
  type InspectReport,
  indexCertificates,
  keyFingerprints,
  type ObjectJson,
  type SourceJson,
  sourceJson,
} from '../inventory/report.ts';
import { looksLikePem } from '../x509/pem.ts';
import { checkInputs, stdinOnce } from './files.ts';
import { eachInput, readInputs } from './inputs.ts';
import { bufferedWriter } from './output.ts';
import { colonHex, formatDate, humanDuration } from './text.ts';

export interface InspectOptions {
  password?: string;
  at?: Date;
}

export function inspectPaths(paths: string[], opts: InspectOptions = {}): InspectReport {
  // A file named on its own must be readable; inside a directory, unreadable files are reported, not fatal.
  return buildReport(readInputs(paths, opts.password === undefined ? {} : { password: opts.password }), opts.at ?? new Date());
}

export function renderInspect(report: InspectReport): string {
  const now = new Date(report.generatedAt);
  return report.sources.map((s, i) => renderSource(s, now, i === 0)).join('');
}

/** One source in words, as renderInspect prints it (a blank line before every source but the first). */
function renderSource(s: SourceJson, now: Date, first: boolean): string {
  const out: string[] = [];
  out.push(`${s.source}${s.format ? ` (${s.format.toUpperCase()})` : ''}`);
  if (s.error) out.push(`  error: ${s.error}`);
  if (s.protection) {
    const it = (n?: number) => (n === undefined ? '' : `, ${n} iterations`);
    out.push(
      `  MAC: ${s.protection.mac ? `${s.protection.mac.algorithm}${it(s.protection.mac.iterations)}` : 'none (no integrity check)'}`,
    );
    for (const e of s.protection.encryption) out.push(`  ${e.what}: ${e.algorithm}${e.prf ? ` (${e.prf})` : ''}${it(e.iterations)}`);
    if (s.protection.encryption.every((e) => e.what !== 'certificates')) out.push('  certificates: not encrypted');
  }
  for (const o of s.objects) out.push(...renderObject(o, now).map((l) => `  ${l}`));
  for (const w of s.warnings) out.push(`  warning: ${w}`);
  return `${first ? '' : '\n'}${out.join('\n')}\n`;
}

export type InspectFormat = 'table' | 'json' | 'yaml' | 'ndjson';

const NO_KEYS: ReadonlyMap<string, CertMatch[]> = new Map();

/**
 * `inspect` written as it goes: each source is parsed, rendered, written and dropped, so memory does not
 * grow with the number of files (beyond their bytes, which the walk holds) and output starts at once.
 * Byte for byte what printOutput(inspectPaths(...)) prints; `ndjson` prints one line per source instead
 * (docs/inspect-schema.md). Keys name the certificates they belong to anywhere in the input, so when the
 * walk meets the first key, a pass collects every key's fingerprint and a second indexes just the
 * certificates with those keys (input without keys is walked once). Bad input (checkInputs) is reported
 * before anything is written. Returns whether any source could not be read.
 */
export function streamInspect(
  paths: string[],
  format: InspectFormat,
  write: (chunk: string) => void,
  opts: InspectOptions = {},
): { failed: boolean } {
  const now = opts.at ?? new Date();
  const readOpts = opts.password === undefined ? {} : { password: opts.password };
  // Every walk shares standard input's bytes: it can be read only once.
  const stdin = stdinOnce();
  // What the walk refuses (a named input that cannot be read, too many entries) is refused before
  // anything is written: a dry walk lists the directories and reads only the named files.
  checkInputs(paths, stdin);
  // Each file is read into the walk's reused buffers: nothing of a source is kept past it but strings.
  const inputs = eachInput(paths, { ...readOpts, stdin, reuse: true });
  // Only keys need the index, so it is built when the first key is met: without keys, one walk.
  let byKey: Map<string, CertMatch[]> | undefined;
  const indexKeys = (): Map<string, CertMatch[]> => {
    const keys = new Set<string>();
    for (const r of eachInput(paths, { ...readOpts, stdin, filter: mayHoldKey, reuse: true })) keyFingerprints(r, keys);
    const index = new Map<string, CertMatch[]>();
    if (keys.size) for (const r of eachInput(paths, { ...readOpts, stdin, reuse: true })) indexCertificates(r, index, keys);
    return index;
  };
  const head = { schema: INSPECT_SCHEMA_VERSION, generatedAt: now.toISOString() };
  const out = bufferedWriter(write);
  let failed = false;
  let n = 0;
  for (const r of inputs) {
    if (!byKey && r.result?.objects.some((o) => o.kind === 'private-key' || o.kind === 'public-key')) byKey = indexKeys();
    const s = sourceJson(r, now, byKey ?? NO_KEYS);
    if (s.error) failed = true;
    if (format === 'ndjson') out.write(`${JSON.stringify({ ...head, ...s })}\n`);
    else if (format === 'json') {
      // JSON.stringify(report, null, 2), one source at a time (strings never hold a raw newline).
      if (n === 0) out.write(`${JSON.stringify(head, null, 2).slice(0, -2)},\n  "sources": [\n`);
      out.write(`${n ? ',\n' : ''}    ${JSON.stringify(s, null, 2).replaceAll('\n', '\n    ')}`);
    } else if (format === 'yaml') {
      if (n === 0) out.write(`${stringify(head, { lineWidth: 0 })}sources:\n`);
      out.write(stringify([s], { lineWidth: 0 }).replace(/^(?=.)/gm, '  '));
    } else out.write(renderSource(s, now, n === 0));
    n++;
  }
  if (format === 'json') out.write(n ? '\n  ]\n}\n' : `${JSON.stringify({ ...head, sources: [] }, null, 2)}\n`);
  else if (format === 'yaml' && n === 0) out.write(stringify({ ...head, sources: [] }, { lineWidth: 0 }));
  out.flush();
  return { failed };
}

/**
 * False only for what cannot hold a private or public key: PEM (as the reader detects it) with no
 * label ending in KEY. The pass that collects keys parses the rest only.
 */
function mayHoldKey(data: Uint8Array): boolean {
  return !looksLikePem(data) || Buffer.from(data.buffer, data.byteOffset, data.length).includes('KEY-----', 0, 'latin1');
}

function renderObject(o: ObjectJson, now: Date): string[] {
  const rows: [string, string][] = [];
  let head: string;
  if (o.kind === 'certificate') {
    const c = o;
    head = `Certificate ${c.subject || '(empty subject)'}  [${c.location}]`;
    const left = c.expired
      ? `EXPIRED ${humanDuration(-c.secondsRemaining)} ago`
      : c.notYetValid
        ? `NOT YET VALID (starts in ${humanDuration((Date.parse(c.notBefore) - now.getTime()) / 1000)})`
        : `${humanDuration(c.secondsRemaining)} left`;
    rows.push(['Issuer', c.selfSigned ? `${c.issuer} (self-signed)` : c.issuer]);
    rows.push(['Validity', `${formatDate(c.notBefore)} to ${formatDate(c.notAfter)} (${left})`]);
    const k = c.publicKey;
    rows.push(['Key', `${k.algorithm}${k.curve ? ` ${k.curve}` : k.size ? ` ${k.size}` : ''}`]);
    const sans = [
      ...c.subjectAltNames.dns.map((v) => `DNS:${v}`),
      ...c.subjectAltNames.ip.map((v) => `IP:${v}`),
      ...c.subjectAltNames.uri.map((v) => `URI:${v}`),
      ...c.subjectAltNames.email.map((v) => `email:${v}`),
      ...c.subjectAltNames.other,
    ];
    if (sans.length) rows.push(['SANs', sans.join(', ')]);
    if (c.basicConstraints?.ca)
      rows.push(['CA', `yes${c.basicConstraints.pathLen !== null ? `, pathLen ${c.basicConstraints.pathLen}` : ''}`]);
    if (c.keyUsage.length) rows.push(['Key usage', c.keyUsage.join(', ')]);
    if (c.extendedKeyUsage.length) rows.push(['Ext key usage', c.extendedKeyUsage.join(', ')]);
    if (c.nameConstraints) {
      const nc = c.nameConstraints;
      const fmt = (s: typeof nc.permitted): string => [...s.dns, ...s.ip, ...s.email, ...s.uri, ...s.directory].join(', ') || '-';
      rows.push(['Name constr.', `permitted: ${fmt(nc.permitted)}; excluded: ${fmt(nc.excluded)}`]);
    }
    if (c.crlDistributionPoints.length) rows.push(['CRL', c.crlDistributionPoints.join(', ')]);
    if (c.authorityInfoAccess.ocsp.length) rows.push(['OCSP', c.authorityInfoAccess.ocsp.join(', ')]);
    if (c.authorityInfoAccess.caIssuers.length) rows.push(['CA issuers', c.authorityInfoAccess.caIssuers.join(', ')]);
    rows.push(['Signature', c.signatureAlgorithm]);
    rows.push(['Serial', colonHex(c.serialNumber)]);
    if (c.subjectKeyId) rows.push(['Subject key ID', colonHex(c.subjectKeyId)]);
    if (c.authorityKeyId) rows.push(['Auth. key ID', colonHex(c.authorityKeyId)]);
    rows.push(['SHA-256', colonHex(c.fingerprints.sha256)]);
    rows.push(['SHA-1', colonHex(c.fingerprints.sha1)]);
    rows.push(['SPKI SHA-256', colonHex(k.spkiSha256)]);
    for (const w of c.warnings) rows.push(['Warning', w]);
  } else if (o.kind === 'private-key' || o.kind === 'public-key') {
    head = `${o.kind === 'private-key' ? 'Private key' : 'Public key'} ${o.publicKey.algorithm}${o.publicKey.curve ? ` ${o.publicKey.curve}` : o.publicKey.size ? ` ${o.publicKey.size}` : ''}  [${o.location}]`;
    if (o.encoding) rows.push(['Encoding', o.encoding]);
    rows.push(['SPKI SHA-256', colonHex(o.publicKey.spkiSha256)]);
    rows.push([
      'Matches',
      o.matchesCertificates.length
        ? o.matchesCertificates.map((m) => `${m.subject} (${m.source})`).join('; ')
        : 'no certificate in this input',
    ]);
  } else if (o.kind === 'csr') {
    head = `Certificate request ${String(o.subject ?? '')}  [${o.location}]`;
    const r = o as Record<string, unknown>;
    const pk = r.publicKey as { algorithm?: string; size?: number; curve?: string } | undefined;
    if (pk) rows.push(['Key', `${pk.algorithm ?? '?'}${pk.curve ? ` ${pk.curve}` : pk.size ? ` ${pk.size}` : ''}`]);
    const sans = r.subjectAltNames as { dns?: string[]; ip?: string[]; uri?: string[]; email?: string[] } | undefined;
    const list = [
      ...(sans?.dns ?? []).map((v) => `DNS:${v}`),
      ...(sans?.ip ?? []).map((v) => `IP:${v}`),
      ...(sans?.uri ?? []).map((v) => `URI:${v}`),
    ];
    if (list.length) rows.push(['SANs', list.join(', ')]);
    if (typeof r.signatureValid === 'boolean') rows.push(['Signature', r.signatureValid ? 'valid (proof of possession)' : 'INVALID']);
  } else {
    const r = o as Record<string, unknown>;
    head = `CRL issued by ${String(r.issuer ?? '?')}  [${o.location}]`;
    if (r.thisUpdate) rows.push(['This update', formatDate(String(r.thisUpdate))]);
    if (r.nextUpdate) rows.push(['Next update', formatDate(String(r.nextUpdate))]);
    if (r.crlNumber !== undefined) rows.push(['CRL number', String(r.crlNumber)]);
    const entries = r.entries as unknown[] | undefined;
    rows.push(['Revoked', `${entries?.length ?? 0} certificate(s)`]);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  return [head, ...rows.map(([k, v]) => `  ${`${k}:`.padEnd(w + 2)}${v}`)];
}
