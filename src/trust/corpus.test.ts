// The scenario corpus, end to end: each case is written to its own folder (anchors.pem,
// intermediates.pem, leaf.pem, crl.pem, case.json), read back, and judged by Anchorage and by
// `openssl verify`. Verdicts must agree wherever openssl can express the case.
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildScenarios, type Scenario } from '../../test/support/trust-scenarios.ts';
import { Certificate, toPem } from '../x509/certificate.ts';
import { Crl } from '../x509/crl.ts';
import { scanPem } from '../x509/pem.ts';
import { REASON_CODES, type ReasonCode } from './codes.ts';
import type { KeyAnchor } from './pool.ts';
import { verifyChain } from './verify.ts';

interface CaseJson {
  purpose?: string;
  host?: string;
  at: string;
  maxDepth?: number;
  partialChain?: boolean;
  requireCrl?: boolean;
  anchorKeyNames: (string | null)[];
  expect: { trusted: boolean; code?: ReasonCode };
  openssl: Scenario['openssl'];
  profile?: string;
}

const root = mkdtempSync(join(tmpdir(), 'anchorage-trust-corpus-'));
// ANCHORAGE_KEEP_CORPUS=1 keeps the folders for a look with openssl by hand.
afterAll(() => {
  if (process.env.ANCHORAGE_KEEP_CORPUS) console.log(`scenario corpus kept in ${root}`);
  else rmSync(root, { recursive: true, force: true });
});

// openssl's X509_V_ERR numbers that count as the same finding as our code (docs/trust.md has the table).
const OPENSSL_ERRORS: Record<ReasonCode, number[]> = {
  ISSUER_NOT_FOUND: [2, 20],
  NAME_MISMATCH_KEY: [7, 20, 85],
  SIGNATURE_INVALID: [7],
  UNTRUSTED_ROOT: [19],
  LOOP: [20],
  DEPTH_EXCEEDED: [22],
  EXPIRED: [10],
  NOT_YET_VALID: [9],
  NOT_A_CA: [24, 79],
  PATH_LEN_EXCEEDED: [25],
  MISSING_KEY_CERT_SIGN: [32, 79],
  EKU_MISMATCH: [26],
  KEY_USAGE_MISMATCH: [26],
  NAME_CONSTRAINT_VIOLATION: [47, 48],
  HOST_MISMATCH: [62, 64],
  UNKNOWN_CRITICAL_EXTENSION: [34],
  MALFORMED_CERTIFICATE: [],
  INSECURE_SIGNATURE_ALGORITHM: [],
  UNSUPPORTED_SIGNATURE_ALGORITHM: [7],
  PROFILE_VIOLATION: [85],
  REVOKED: [23],
  CRL_EXPIRED: [12],
  CRL_NOT_YET_VALID: [11],
  CRL_SIGNATURE_INVALID: [3, 8],
  CRL_MISSING_CRL_SIGN: [35],
  CRL_UNKNOWN_CRITICAL_EXTENSION: [36],
  CRL_MISSING: [3],
};

function writeCase(s: Scenario): string {
  const dir = join(root, s.name);
  mkdirSync(dir);
  const keys = (s.anchorKeys ?? []).map((k) => toPem('PUBLIC KEY', k.publicKey.export({ type: 'spki', format: 'der' })));
  writeFileSync(join(dir, 'anchors.pem'), [...s.anchors.map((c) => c.toPem()), ...keys].join(''));
  writeFileSync(join(dir, 'intermediates.pem'), s.intermediates.map((c) => c.toPem()).join(''));
  writeFileSync(join(dir, 'leaf.pem'), s.leaf.toPem());
  if (s.crls?.length) writeFileSync(join(dir, 'crl.pem'), s.crls.map((d) => toPem('X509 CRL', d)).join(''));
  const c: CaseJson = {
    at: s.at.toISOString(),
    anchorKeyNames: (s.anchorKeys ?? []).map((k) => k.name ?? null),
    expect: s.expect,
    openssl: s.openssl,
  };
  if (s.profile !== undefined) c.profile = s.profile;
  if (s.purpose !== undefined) c.purpose = s.purpose;
  if (s.host !== undefined) c.host = s.host;
  if (s.maxDepth !== undefined) c.maxDepth = s.maxDepth;
  if (s.partialChain) c.partialChain = true;
  if (s.requireCrl) c.requireCrl = true;
  writeFileSync(join(dir, 'case.json'), `${JSON.stringify(c, null, 2)}\n`);
  return dir;
}

const blocks = (file: string) => (existsSync(file) ? scanPem(readFileSync(file, 'latin1')) : []);

function anchorage(dir: string, c: CaseJson) {
  const anchorBlocks = blocks(join(dir, 'anchors.pem'));
  const keyNames = [...c.anchorKeyNames];
  const anchors = anchorBlocks.map((b): Certificate | KeyAnchor => {
    if (b.label === 'CERTIFICATE') return new Certificate(b.der);
    const name = keyNames.shift();
    const publicKey = createPublicKey({ key: Buffer.from(b.der), format: 'der', type: 'spki' });
    return name ? { publicKey, name } : { publicKey };
  });
  const intermediates = blocks(join(dir, 'intermediates.pem')).map((b) => new Certificate(b.der));
  const leaf = new Certificate((blocks(join(dir, 'leaf.pem'))[0] as { der: Uint8Array }).der);
  const crls = blocks(join(dir, 'crl.pem')).map((b) => new Crl(b.der));
  return verifyChain({
    leaf,
    anchors,
    intermediates,
    // openssl's rules: this corpus compares with openssl verify (go-oracle.test.ts checks 'kubernetes' against Go).
    profile: c.profile ?? 'openssl',
    at: new Date(c.at),
    ...(c.purpose !== undefined ? { purpose: c.purpose } : {}),
    ...(c.host !== undefined ? { host: c.host } : {}),
    ...(c.maxDepth !== undefined ? { maxDepth: c.maxDepth } : {}),
    ...(crls.length ? { crls } : {}),
    ...(c.requireCrl ? { revocation: 'require' as const } : {}),
  });
}

/** Runs openssl verify on a case folder: trusted or not, and its error line for diagnostics. */
function opensslVerify(dir: string, c: CaseJson): { trusted: boolean; output: string } {
  const args = ['verify', '-x509_strict', '-CAfile', join(dir, 'anchors.pem')];
  if (readFileSync(join(dir, 'intermediates.pem'), 'latin1').length) args.push('-untrusted', join(dir, 'intermediates.pem'));
  if (c.purpose === 'server') args.push('-purpose', 'sslserver');
  if (c.purpose === 'client') args.push('-purpose', 'sslclient');
  if (c.host !== undefined) args.push(/^[\d.]+$|:/.test(c.host) ? '-verify_ip' : '-verify_hostname', c.host);
  if (c.maxDepth !== undefined) args.push('-verify_depth', String(c.maxDepth));
  if (c.partialChain) args.push('-partial_chain');
  if (existsSync(join(dir, 'crl.pem'))) args.push('-crl_check_all', '-CRLfile', join(dir, 'crl.pem'));
  args.push('-attime', String(Math.floor(Date.parse(c.at) / 1000)), join(dir, 'leaf.pem'));
  try {
    const output = execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { trusted: true, output };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { trusted: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const scenarios = buildScenarios();
const dirs = new Map(scenarios.map((s) => [s.name, writeCase(s)]));

describe('scenario corpus', () => {
  it('has one folder per case', () => {
    expect(readdirSync(root).sort()).toEqual(scenarios.map((s) => s.name).sort());
    expect(new Set(scenarios.map((s) => s.name)).size).toBe(scenarios.length);
  });

  it('covers every reason code', () => {
    const covered = new Set(scenarios.map((s) => s.expect.code));
    const missing = (Object.keys(REASON_CODES) as ReasonCode[]).filter((k) => !covered.has(k));
    expect(missing).toEqual([]);
  });

  for (const s of scenarios) {
    it(s.name, () => {
      const dir = dirs.get(s.name) as string;
      const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as CaseJson;
      const r = anchorage(dir, c);
      const detail = JSON.stringify({ code: r.code, reasons: r.reasons }, null, 1);
      expect(r.trusted, detail).toBe(c.expect.trusted);
      expect(r.code, detail).toBe(c.expect.code ?? null);
      if (c.openssl === 'n/a') return;
      const o = opensslVerify(dir, c);
      if (c.openssl === 'same') {
        expect(o.trusted, o.output).toBe(r.trusted);
        // Beyond the verdict: openssl's first error is our code's counterpart.
        const err = /error (\d+) at/.exec(o.output)?.[1];
        if (r.code) expect(OPENSSL_ERRORS[r.code], o.output).toContain(Number(err));
      } else expect(o.trusted, `documented difference no longer holds: ${o.output}`).toBe(!r.trusted);
    });
  }
});
