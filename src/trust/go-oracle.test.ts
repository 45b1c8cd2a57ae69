// Go's crypto/x509 as the oracle for the 'kubernetes' profile: every scenario of the trust corpus and
import { writeFileSync } from 'node:fs';
// thousands of seeded mutations go to test/go-oracle (x509.ParseCertificate + Certificate.Verify, the
// pinned Go), and the kubernetes profile must reach the same verdict on each, with a reason code of the
// family Go's error names. Deliberate differences are marked on the scenario and listed in docs/trust.md.
import { beforeAll, describe, expect, it } from 'vitest';
import { askGo, type GoAnswer, type GoVerifyCase, goOracleBinary, goVersion } from '../../test/support/go-oracle.ts';
import { generateMutations, type MutationCase } from '../../test/support/mutations.ts';
import { buildScenarios, type Scenario } from '../../test/support/trust-scenarios.ts';
import { Certificate } from '../x509/certificate.ts';
import type { ReasonCode } from './codes.ts';
import { verifyChain } from './verify.ts';

// Go's error text for each of our codes (the families: Go reports one error, we report every finding).
const GO_ERRORS: Record<ReasonCode, RegExp> = {
  ISSUER_NOT_FOUND: /unknown authority/,
  NAME_MISMATCH_KEY: /unknown authority/,
  SIGNATURE_INVALID: /unknown authority/,
  UNTRUSTED_ROOT: /unknown authority/,
  LOOP: /unknown authority/,
  DEPTH_EXCEEDED: /unknown authority/,
  EXPIRED: /expired or is not yet valid/,
  NOT_YET_VALID: /expired or is not yet valid/,
  NOT_A_CA: /unknown authority|cannot sign this kind of certificate|not authorized to sign other certificates/,
  PATH_LEN_EXCEEDED: /too many intermediates/,
  MISSING_KEY_CERT_SIGN: /unknown authority|cannot sign this kind of certificate/,
  EKU_MISMATCH: /incompatible key usage/,
  KEY_USAGE_MISMATCH: /incompatible key usage/,
  NAME_CONSTRAINT_VIOLATION: /not authorized to sign for this name|cannot parse|cannot be matched/,
  HOST_MISMATCH: /valid for|doesn't contain any IP SANs|legacy Common Name|not valid for any names/,
  UNKNOWN_CRITICAL_EXTENSION: /unhandled critical extension/,
  MALFORMED_CERTIFICATE: /./,
  INSECURE_SIGNATURE_ALGORITHM: /unknown authority|insecure algorithm/,
  UNSUPPORTED_SIGNATURE_ALGORITHM: /unknown authority|algorithm unimplemented|unsupported/,
  PROFILE_VIOLATION: /./,
  REVOKED: /$^/,
  CRL_EXPIRED: /$^/,
  CRL_NOT_YET_VALID: /$^/,
  CRL_SIGNATURE_INVALID: /$^/,
  CRL_MISSING_CRL_SIGN: /$^/,
  CRL_UNKNOWN_CRITICAL_EXTENSION: /$^/,
  CRL_MISSING: /$^/,
};

const GO_EKU: Record<string, string> = { server: 'server', client: 'client', any: 'any', '1.3.6.1.5.5.7.3.3': 'codeSigning' };

interface Ours {
  trusted: boolean;
  failures: { code: ReasonCode; step: number }[];
  detail: string;
}

// Our codes for what Go finds while building chains: it reports those as "unknown authority" (with a
// hint), whatever the candidate's fault.
const BUILDING: readonly ReasonCode[] = [
  'ISSUER_NOT_FOUND',
  'NAME_MISMATCH_KEY',
  'SIGNATURE_INVALID',
  'UNTRUSTED_ROOT',
  'LOOP',
  'INSECURE_SIGNATURE_ALGORITHM',
  'UNSUPPORTED_SIGNATURE_ALGORITHM',
  'MALFORMED_CERTIFICATE',
];
// Go checks the leaf's validity, its critical extensions and the host name before building chains:
// its error then names that first fault, while ours may name the path's.
const GO_LEAF_FIRST =
  /expired or is not yet valid|unhandled critical extension|valid for|doesn't contain any IP SANs|legacy Common Name|not valid for any names/;

/** The kubernetes profile on raw DER, as a Go program would load it: unparsable pool members are dropped. */
function ours(c: {
  leaf: Uint8Array;
  roots: readonly Uint8Array[];
  intermediates: readonly Uint8Array[];
  at: Date;
  purpose: string;
  host?: string;
}): Ours {
  let leaf: Certificate;
  try {
    leaf = new Certificate(c.leaf);
  } catch (e) {
    return { trusted: false, failures: [{ code: 'MALFORMED_CERTIFICATE', step: 0 }], detail: `leaf unreadable: ${(e as Error).message}` };
  }
  const load = (list: readonly Uint8Array[]): Certificate[] =>
    list.flatMap((d) => {
      try {
        return [new Certificate(d)];
      } catch {
        return [];
      }
    });
  const r = verifyChain({
    leaf,
    anchors: load(c.roots),
    intermediates: load(c.intermediates),
    at: c.at,
    purpose: c.purpose,
    ...(c.host !== undefined ? { host: c.host } : {}),
    profile: 'kubernetes',
  });
  const best = r.candidates[0];
  return {
    trusted: r.trusted,
    failures: (best?.failures ?? []).map((f) => ({ code: f.code, step: f.step })),
    detail: JSON.stringify(r.reasons.slice(0, 4)),
  };
}

function goCase(
  id: string,
  c: { leaf: Uint8Array; roots: readonly Uint8Array[]; intermediates: readonly Uint8Array[]; at: Date; purpose: string; host?: string },
): GoVerifyCase {
  return {
    id,
    leaf: c.leaf,
    roots: c.roots,
    intermediates: c.intermediates,
    time: c.at,
    eku: [GO_EKU[c.purpose] ?? c.purpose],
    ...(c.host !== undefined ? { host: c.host } : {}),
  };
}

const goOk = (a: GoAnswer): boolean => a.leaf?.ok === true && a.verify?.ok === true;
const goError = (a: GoAnswer): string => (a.leaf?.ok ? (a.verify?.error ?? '') : `parse: ${a.leaf?.error ?? ''}`);

/** Agreement: same verdict, and when refused, one of our codes is of the family Go's error names. */
function agrees(o: Ours, a: GoAnswer): boolean {
  if (o.trusted !== goOk(a)) return false;
  if (o.trusted) return true;
  if (!a.leaf?.ok) return o.failures.some((f) => f.code === 'MALFORMED_CERTIFICATE' && f.step === 0);
  const err = goError(a);
  if (/unknown authority/.test(err)) return o.failures.some((f) => f.step > 0 || BUILDING.includes(f.code));
  if (GO_LEAF_FIRST.test(err) && o.failures.some((f) => BUILDING.includes(f.code))) return true;
  return o.failures.some((f) => GO_ERRORS[f.code].test(err));
}

const scenarioInput = (s: Scenario) => ({
  leaf: s.leaf.der,
  roots: s.anchors.map((c) => c.der),
  intermediates: s.intermediates.map((c) => c.der),
  at: s.at,
  purpose: s.purpose ?? 'any',
  ...(s.host !== undefined ? { host: s.host } : {}),
});

describe('Go oracle: the kubernetes profile agrees with crypto/x509', () => {
  beforeAll(() => {
    goOracleBinary();
  });

  it('runs the Go that builds the control plane', () => {
    expect(goVersion()).toMatch(/^go1\.26\./);
  });

  describe('trust scenarios', () => {
    const scenarios = buildScenarios();
    // Go cannot express bare-key anchors or URI host checks; revocation and maxDepth are not Go
    // concepts, so those cases run without CRLs and with the default depth (the path rules still apply).
    const comparable = scenarios.filter((s) => (s.go ?? 'same') !== 'n/a');
    let answers: Map<string, GoAnswer>;
    beforeAll(() => {
      const list = askGo(comparable.map((s) => goCase(s.name, scenarioInput(s))));
      answers = new Map(list.map((a) => [a.id, a]));
    });
    for (const s of comparable) {
      it(s.name, () => {
        const a = answers.get(s.name) as GoAnswer;
        const o = ours(scenarioInput(s));
        const msg = `Go: ${goOk(a) ? 'ok' : goError(a)}; Anchorage: ${o.trusted ? 'trusted' : o.failures.map((f) => f.code).join(',')} ${o.detail}`;
        const want = s.kubernetes ?? s.expect;
        expect(o.trusted, msg).toBe(want.trusted);
        if (!want.trusted && want.code) expect(o.failures[0]?.code, msg).toBe(want.code);
        if (s.go === undefined || s.go === 'same') expect(agrees(o, a), msg).toBe(true);
        else expect(goOk(a), `documented difference no longer holds: ${msg}`).toBe(!o.trusted);
      });
    }
  });

  describe('generated mutations', () => {
    const SEEDS = [1, 2, 3, 4];
    const PER_SEED = 750;
    for (const seed of SEEDS) {
      it(`seed ${seed}: ${PER_SEED} cases, no unexplained difference`, () => {
        const cases: MutationCase[] = generateMutations(seed, PER_SEED);
        const answers = askGo(cases.map((c) => goCase(c.id, c)));
        const diffs: string[] = [];
        let refusedByGo = 0;
        cases.forEach((c, i) => {
          const a = answers[i] as GoAnswer;
          if (!goOk(a)) refusedByGo++;
          const o = ours(c);
          if (!agrees(o, a))
            diffs.push(
              `${c.id} [${c.what.join('; ')}] purpose=${c.purpose} host=${c.host ?? '-'}: Go ${goOk(a) ? 'ok' : goError(a)} / Anchorage ${o.trusted ? 'trusted' : o.failures.map((f) => `${f.code}@${f.step}`).join(',')} ${o.detail}`,
            );
        });
        // ANCHORAGE_GO_DIFFS=/tmp/prefix writes every difference to a file per seed, for a look.
        if (process.env.ANCHORAGE_GO_DIFFS)
          writeFileSync(`${process.env.ANCHORAGE_GO_DIFFS}${seed}`, `refused by Go: ${refusedByGo}\n${diffs.join('\n')}`);
        // The corpus must exercise both verdicts.
        expect(refusedByGo).toBeGreaterThan(PER_SEED / 10);
        expect(refusedByGo).toBeLessThan(PER_SEED - PER_SEED / 10);
        expect(diffs, diffs.slice(0, 40).join('\n')).toEqual([]);
      });
    }
  });
});
