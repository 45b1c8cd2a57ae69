// CEL in CA policies. The evaluator (src/ca/cel.ts) is held against cel-go (test/ca-cel-oracle, the CEL
// implementation Kubernetes and approver-policy run) on the same expressions over the same `request`: every
// value must be the one cel-go gives, and every expression cel-go refuses (at compile or evaluation time)
// must fail here too. Then a CA whose policy has CEL rules, fed CSRs made by openssl: a request breaking a
// rule is refused with the rule's message and audited; one within the rules is issued and openssl verifies it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CelValue, compileCel, toCel } from '../src/ca/cel.ts';
import { loadKek } from '../src/ca/kek.ts';
import { CaRefusal, CaService } from '../src/ca/service.ts';
import { InputError } from '../src/common/errors.ts';
import { openStore } from '../src/store/open.ts';
import type { Store } from '../src/store/store.ts';
import { openssl } from './support/openssl.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ca-cel-'));
let oracle = '';
let store: Store;
let svc: CaService;

beforeAll(async () => {
  oracle = execFileSync('bash', [join(root, 'test', 'ca-cel-oracle', 'build.sh')], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 1_200_000,
  })
    .trim()
    .split('\n')
    .pop() as string;
  store = await openStore(`sqlite:${join(dir, 'ca.db')}`);
  svc = await CaService.open({ store, kek: loadKek('9'.repeat(64)) });
}, 1_300_000);

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = {
  names: ['DNS:api.web.svc', 'DNS:web.svc', 'IP:10.0.0.7', 'URI:spiffe://cluster.local/ns/web/sa/api'],
  dns: ['api.web.svc', 'web.svc'],
  ips: ['10.0.0.7'],
  uris: ['spiffe://cluster.local/ns/web/sa/api'],
  emails: [],
  commonName: 'api.web.svc',
  profile: 'server',
  days: 30,
  keyType: 'ecdsa-p256',
  requester: 'token:3f2a9c',
};

const EXPRESSIONS = [
  // literals and arithmetic
  'true',
  '1 + 2 * 3',
  '(1 + 2) * 3',
  '7 / 2',
  '-7 / 2',
  '7 % 3',
  '-7 % 3',
  '1.5 + 2.25',
  '10.0 / 4.0',
  '0x1F + 1',
  '9223372036854775807 + 1',
  '-9223372036854775808',
  '-9223372036854775808 - 1',
  '9223372036854775808',
  '1 / 0',
  '1 % 0',
  '1.0 / 0.0 > 1.0',
  '1 + 1.0',
  '"a" + "b"',
  "'it\\'s' + \"\"",
  "r'a\\n' == 'a\\\\n'",
  '"""tri"ple"""',
  '[1, 2] + [3]',
  '{"a": 1, "b": [true]}',
  '{"a": 1, "a": 2}',
  // comparison and equality
  '1 == 1.0',
  '1 < 1.5',
  '2.0 >= 2',
  '"a" < "b"',
  'false < true',
  '1 == "1"',
  '[1, "a"] == [1, "a"]',
  '[1] == [1.0]',
  '{"k": 1} == {"k": 1.0}',
  'null == null',
  '1 < "a"',
  '3 in [1, 2, 3]',
  '"x" in {"x": 1}',
  '2.0 in [1, 2]',
  // logic, errors absorbed by the deciding side
  'true && false',
  '!true || !false',
  'false && 1 / 0 == 1',
  '1 / 0 == 1 && false',
  'true || 1 / 0 == 1',
  '1 / 0 == 1 || true',
  '1 / 0 == 1 || false',
  'true && 1',
  '!1',
  'true ? 1 : 2',
  'false ? 1 : "two"',
  '1 ? 2 : 3',
  // strings
  'size("héllo")',
  '"hello".size()',
  '"api.web.svc".endsWith(".web.svc")',
  '"api.web.svc".startsWith("api.")',
  '"api.web.svc".contains("web")',
  '"api-7.web.svc".matches("^[a-z]+-[0-9]+\\\\.web\\\\.svc$")',
  '"abc".matches("(")',
  'string(42) + "x"',
  'int("42") + 1',
  'int("4x2")',
  'int(2.9)',
  'int(-2.9)',
  'double(3)',
  'double("2.5")',
  'string(true)',
  '"abc"[0]',
  '1.startsWith("a")',
  // the request
  'request.profile == "server"',
  'request.days <= 30.0',
  'request.days < 31',
  'request.days == 30',
  'request.missing',
  'request.dns[1]',
  'request.dns[2]',
  'request["commonName"]',
  'size(request.names)',
  'request.emails.size() == 0',
  'request.dns.all(d, d.endsWith(".web.svc") || d == "web.svc")',
  'request.dns.exists(d, d.startsWith("api."))',
  'request.dns.exists_one(d, d.contains("web"))',
  'request.dns.map(d, d + "!")',
  'request.dns.map(d, d.startsWith("api"), size(d))',
  'request.names.filter(n, n.startsWith("DNS:"))',
  'request.uris.all(u, u.startsWith("spiffe://cluster.local/ns/" + "web" + "/"))',
  'request.commonName in request.dns',
  'request.requester.startsWith("token:") && request.profile != "peer"',
  'request.keyType in ["ecdsa-p256", "ed25519"]',
  '[1, 0, 2].all(x, 10 / x > 1)',
  '[1, 0, 2].exists(x, 10 / x == 10)',
  '[0, 1].exists(x, 10 / x == 100)',
  '{"a": 1, "b": 2}.all(k, k in ["a", "b"])',
  'undefinedName',
  'nosuchfn(1)',
  'request.dns.all(d)',
  '[1, 2].all(x, x == "a")',
  'request.dns.map(d, size(d)).all(n, n > 1)',
  'request.days > 1 ? "long" : "short"',
  'request["days"] + 1.5',
  '1 +',
  '(1',
  'if',
];

function canon(v: CelValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `int(${v})`;
  if (typeof v === 'number') return `double(${v})`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(', ')}]`;
  return `{${[...v]
    .map(([k, x]) => `${canon(k)}: ${canon(x)}`)
    .sort()
    .join(', ')}}`;
}

function ours(expr: string): string {
  try {
    return canon(compileCel(expr).eval({ request: toCel(request) }));
  } catch {
    return 'error';
  }
}

describe('CEL against cel-go', () => {
  it(`the same value (or an error) for ${EXPRESSIONS.length} expressions over the same request`, () => {
    const input = `${EXPRESSIONS.map((expr) => JSON.stringify({ expr, request })).join('\n')}\n`;
    const theirs = execFileSync(oracle, { input, encoding: 'utf8', timeout: 120_000 }).trimEnd().split('\n');
    expect(theirs).toHaveLength(EXPRESSIONS.length);
    const diffs = EXPRESSIONS.map((e, i) => ({ e, ours: ours(e), go: theirs[i] })).filter((d) => d.ours !== d.go);
    expect(diffs).toEqual([]);
    // The comparison is not vacuous: most cases have values, some fail in both.
    expect(theirs.filter((t) => t === 'error').length).toBeGreaterThan(10);
    expect(theirs.filter((t) => t !== 'error').length).toBeGreaterThan(60);
  }, 120_000);

  it('uint and bytes (which cel-go has) are refused here when the rule is set, not misread', () => {
    for (const e of ['1u', 'b"x"', 'request.days == 2u']) expect(() => compileCel(e)).toThrow(/not supported/);
  });
});

describe('CEL rules in a CA policy', () => {
  const csr = (name: string, sans: string, key = ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']) => {
    openssl(
      dir,
      'req',
      '-new',
      '-newkey',
      ...key,
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      '/',
      '-addext',
      `subjectAltName=${sans}`,
    );
    return readFileSync(join(dir, `${name}.csr`), 'utf8');
  };

  it('a rule that does not parse is refused when the policy is set, with the reason', async () => {
    const e = await svc
      .createCa({ name: 'broken', requester: 'test', policy: { dns: ['*.x.svc'], cel: [{ rule: 'request.dns.all(d, ' }] } })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(/^policy: cel: CEL expression "request\.dns\.all\(d, ": unexpected end of expression$/);
  });

  it('issues what the rules allow and refuses the rest with the rule message, audited; openssl verifies what was issued', async () => {
    await svc.createCa({
      name: 'mesh',
      requester: 'test',
      policy: {
        dns: ['**.mesh.svc'],
        uris: ['spiffe://cluster.local/ns/*', 'spiffe://cluster.local/*'],
        cel: [
          { rule: 'request.dns.all(d, size(d) <= 24)', message: 'DNS names are at most 24 characters' },
          { rule: 'request.uris.all(u, u.startsWith("spiffe://cluster.local/ns/"))' },
          { rule: 'request.profile != "peer" || request.keyType == "ecdsa-p256"', message: 'peers use P-256 keys' },
        ],
      },
    });
    const ok = await svc.issue({ ca: 'mesh', csr: csr('ok', 'DNS:a.mesh.svc,URI:spiffe://cluster.local/ns/web'), requester: 'test' });
    writeFileSync(join(dir, 'ok.crt'), ok.certificate.toPem());
    writeFileSync(join(dir, 'mesh.pem'), (await svc.getCa('mesh')).chain[0]?.toPem() as string);
    expect(openssl(dir, 'verify', '-CAfile', 'mesh.pem', 'ok.crt').trim()).toBe('ok.crt: OK');

    const refused = async (name: string, sans: string, profile: 'server' | 'peer', key?: string[]) => {
      const e = await svc.issue({ ca: 'mesh', csr: csr(name, sans, key), requester: 'test', profile }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CaRefusal);
      return (e as CaRefusal).message;
    };
    expect(await refused('long', 'DNS:a-very-long-name.mesh.svc', 'server')).toBe(
      'refused by the policy of mesh: DNS names are at most 24 characters',
    );
    expect(await refused('uri', 'URI:spiffe://cluster.local/sa', 'server')).toBe(
      'refused by the policy of mesh: CEL rule "request.uris.all(u, u.startsWith(\\"spiffe://cluster.local/ns/\\"))" is false',
    );
    expect(await refused('rsa', 'DNS:p.mesh.svc', 'peer', ['rsa:2048'])).toBe('refused by the policy of mesh: peers use P-256 keys');
    const audit = await svc.audit('mesh', 3);
    expect(audit.map((a) => a.outcome)).toEqual(['refused', 'refused', 'refused']);
    expect(audit[2]?.reason).toMatch(/DNS names are at most 24 characters/);
  }, 120_000);
});
