// Hostile inputs (issue 9, items 6-12): each crafted file is given to the CLI as a child process with a
// heap limit and a wall-clock hang guard. The guard only catches hangs; no test asserts a duration.
// Expected outcomes come from the rules (RFC 5280, X.690) and from openssl where it has an opinion.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../src/x509/build.ts';
import { createCsr } from '../src/x509/csr.ts';
import { generateKey } from '../src/x509/keys.ts';
import type { Rdns } from '../src/x509/name.ts';
import {
  claimedIterationsKeyPem,
  decoys,
  duplicateEntriesCrl,
  duplicateExtensionsCert,
  encryptedKeyPem,
  hugeCrlNumber,
  hugeRsaCert,
  makeCa,
  makeLeaf,
  manyBagPkcs12,
  pemOf,
  tinyPemBlocks,
  universalStringCert,
  withSignatureUnusedBits,
} from './support/hostile.ts';

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'anchorage-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Memory budget per run: a blow-up dies here instead of taking the machine. */
const HEAP_MB = 512;
/** Hang guard only (the 2-core machine is shared): a run that needs this long has a quadratic loop. */
const HANG_GUARD_MS = 120_000;
/** The test's own hang guard: several CLI runs on a loaded machine. */
const SLOW = { timeout: 600_000 };

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { input?: Buffer | string; stdinFile?: string } = {}): Run {
  const r = spawnSync(node, [`--max-old-space-size=${HEAP_MB}`, main, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
    maxBuffer: 256 * 1024 * 1024,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.stdinFile !== undefined ? { stdio: [opts.stdinFile === '/dev/zero' ? 'pipe' : 'pipe', 'pipe', 'pipe'] } : {}),
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Refused as bad input: exit 2, one line, no stack trace. */
function expectRefused(r: Run, pattern: RegExp): void {
  expect(r.signal, `killed: ${r.stderr.slice(0, 300)}`).toBeNull();
  expect(r.code, r.stderr.slice(0, 500)).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

function expectFinished(r: Run, codes: number[]): void {
  expect(r.signal, `killed: ${r.stderr.slice(0, 300)}`).toBeNull();
  expect(codes, `exit ${r.code}: ${r.stderr.slice(0, 500)}`).toContain(r.code);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const write = (name: string, data: string | Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

const ca = makeCa('CN=Hostile Root');

describe('item 6: names in every string type decode without throwing', () => {
  it('a UniversalString CN above U+10FFFF or a surrogate is shown escaped; one such file does not stop a directory', SLOW, () => {
    mkdirSync(join(dir, 'six'));
    writeFileSync(join(dir, 'six', 'a-bad.der'), universalStringCert(ca, 0x110000));
    writeFileSync(join(dir, 'six', 'b-surrogate.der'), universalStringCert(ca, 0xd800));
    writeFileSync(join(dir, 'six', 'c-good.pem'), makeLeaf(ca, 'CN=good').toPem());
    const one = cli(['inspect', join(dir, 'six', 'a-bad.der'), '-o', 'json']);
    expectFinished(one, [0]);
    expect(JSON.parse(one.stdout).sources[0].objects[0].subject).toContain('\\u{110000}');
    const all = cli(['inspect', join(dir, 'six')]);
    expectFinished(all, [0]);
    expect(all.stdout).toContain('CN=good');
    expect(all.stdout).toContain('\\u{d800}');
    const lint = cli(['lint', join(dir, 'six'), '-o', 'json']);
    expectFinished(lint, [0, 1]);
    expect(JSON.parse(lint.stdout).certificates).toBe(3);
  });
});

describe('item 7: huge name lists', () => {
  it('200k SANs under a name constraint: verify answers (bounded output), 3000 x 3000 is refused as too large', SLOW, () => {
    const nc = makeCa('CN=NC CA', ca, { nameConstraints: { permitted: { dns: ['example.com'] } } });
    const kp = generateKey('ecdsa-p256');
    const many = issueCertificate({
      profile: { subject: 'CN=many', sans: { dns: Array.from({ length: 200_000 }, (_, i) => `h${i}.other.test`) }, validity: { days: 5 } },
      publicKey: kp.publicKey,
      issuer: { cert: nc.cert, key: nc.kp.privateKey },
    });
    write('many.pem', many.toPem());
    write('nc-chain.pem', nc.cert.toPem());
    write('root.pem', ca.cert.toPem());
    const r = cli(['verify', 'many.pem', '--roots', 'root.pem', '--intermediates', 'nc-chain.pem', '-o', 'json']);
    expectFinished(r, [1]);
    expect(r.stdout).toMatch(/NAME_CONSTRAINT_VIOLATION/);
    expect(r.stdout.length).toBeLessThan(1_000_000);

    const wide = makeCa('CN=Wide CA', ca, {
      nameConstraints: { permitted: { dns: Array.from({ length: 3000 }, (_, i) => `d${i}.example`) } },
    });
    const kp2 = generateKey('ecdsa-p256');
    const leaf = issueCertificate({
      profile: { subject: 'CN=wide', sans: { dns: Array.from({ length: 3000 }, (_, i) => `x${i}.nowhere.test`) }, validity: { days: 5 } },
      publicKey: kp2.publicKey,
      issuer: { cert: wide.cert, key: wide.kp.privateKey },
    });
    write('wide-leaf.pem', leaf.toPem());
    write('wide-ca.pem', wide.cert.toPem());
    expectRefused(cli(['verify', 'wide-leaf.pem', '--roots', 'root.pem', '--intermediates', 'wide-ca.pem']), /too large.*comparisons/);
  });

  it('cert sign refuses a CSR with 200k SANs or 200k subject attributes as too large', SLOW, () => {
    const kp = generateKey('ecdsa-p256');
    write('ca.key', ca.kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    write('ca.pem', ca.cert.toPem());
    const sans = createCsr({
      subject: 'CN=req',
      privateKey: kp.privateKey,
      sans: { dns: Array.from({ length: 200_000 }, (_, i) => `n${i}.example`) },
    });
    write('sans.csr', sans.toPem());
    expectRefused(
      cli(['cert', 'sign', 'sans.csr', '--ca', 'ca.pem', '--ca-key', 'ca.key', '--out', 'sans.crt']),
      /too large.*subjectAltNames/,
    );
    const rdns: Rdns = Array.from({ length: 200_000 }, (_, i) => [{ type: '2.5.4.11', name: 'OU', value: `u${i}` }]);
    write('rdns.csr', createCsr({ subject: rdns, privateKey: kp.privateKey }).toPem());
    expectRefused(cli(['cert', 'sign', 'rdns.csr', '--ca', 'ca.pem', '--ca-key', 'ca.key', '--out', 'rdns.crt']), /too large.*attributes/);
    expect(existsSync(join(dir, 'sans.crt')) || existsSync(join(dir, 'rdns.crt'))).toBe(false);
  });
});

describe('item 8 and 12: stdin, FIFOs, devices, symlinked volumes', () => {
  it('stdin larger than the file cap is refused in one line', SLOW, () => {
    expectRefused(cli(['inspect', '-'], { input: Buffer.alloc(65 * 1024 * 1024, 0x41) }), /stdin: too large/);
  });

  it('/dev/zero as stdin is refused, not an out-of-memory abort', SLOW, () => {
    const r = spawnSync('bash', ['-c', `exec "$0" --max-old-space-size=${HEAP_MB} "$1" inspect - < /dev/zero`, node, main], {
      encoding: 'utf8',
      timeout: HANG_GUARD_MS,
    });
    expectRefused({ code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }, /stdin: too large/);
    const d = spawnSync('bash', ['-c', 'exec "$0" "$1" inspect - < /', node, main], { encoding: 'utf8', timeout: HANG_GUARD_MS });
    expectRefused({ code: d.status, signal: d.signal, stdout: d.stdout, stderr: d.stderr }, /stdin: .*directory/);
  });

  it('a device or a FIFO named as input exits 2 with one line', SLOW, () => {
    expectRefused(cli(['inspect', '/dev/zero']), /character device/);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expectRefused(cli(['inspect', fifo]), /FIFO/);
    expectRefused(cli(['lint', fifo]), /FIFO/);
  });

  it('reads a Kubernetes Secret volume (symlinks into ..data) once per logical file, and survives a symlink loop', SLOW, () => {
    const vol = join(dir, 'secret-volume');
    const stamp = '..2026_12_01_14_00_00.123456789';
    mkdirSync(join(vol, stamp), { recursive: true });
    const leaf = makeLeaf(ca, 'CN=mounted');
    writeFileSync(join(vol, stamp, 'tls.crt'), leaf.toPem());
    writeFileSync(join(vol, stamp, 'ca.crt'), ca.cert.toPem());
    symlinkSync(stamp, join(vol, '..data'));
    symlinkSync('..data/tls.crt', join(vol, 'tls.crt'));
    symlinkSync('..data/ca.crt', join(vol, 'ca.crt'));
    mkdirSync(join(vol, 'nested', '.hidden'), { recursive: true });
    writeFileSync(join(vol, 'nested', '.hidden', 'x.pem'), leaf.toPem());
    symlinkSync('..', join(vol, 'nested', 'up'));
    const r = cli(['inspect', vol, '-o', 'json']);
    expectFinished(r, [0]);
    const sources = JSON.parse(r.stdout).sources as { source: string; objects: unknown[] }[];
    const read = sources.filter((s) => s.objects.length > 0).map((s) => s.source.slice(vol.length + 1));
    expect(read.sort()).toEqual(['ca.crt', 'tls.crt']);
  });
});

describe('item 9: no quadratic or unbounded work', () => {
  it('a PEM of a million tiny blocks is scanned (linear) and refused in one line', SLOW, () => {
    write('tiny.pem', tinyPemBlocks(1_000_000));
    expectRefused(cli(['inspect', 'tiny.pem']), /unsupported PEM label 'X'/);
  });

  it('a CRL whose cRLNumber is a 400 KB INTEGER', SLOW, () => {
    write('big-number.crl', hugeCrlNumber(ca, 400_000));
    const r = cli(['inspect', 'big-number.crl', '-o', 'json']);
    expectFinished(r, [0, 2]);
    expect(r.stdout + r.stderr).toMatch(/INTEGER too large/);
  });

  it('100k extensions are refused as too many; a CRL listing one serial 100k times is read', SLOW, () => {
    write('dup-ext.der', duplicateExtensionsCert(ca, 100_000));
    expectRefused(cli(['inspect', 'dup-ext.der']), /too many extensions/);
    const lint = cli(['lint', 'dup-ext.der', '-o', 'json']);
    expectFinished(lint, [1]);
    expect(lint.stdout).toMatch(/x509\.der\.malformed/);
    write('dup-entries.crl', duplicateEntriesCrl(ca, 100_000));
    const c = cli(['inspect', 'dup-entries.crl', '-o', 'json']);
    expectFinished(c, [0]);
    const crl = JSON.parse(c.stdout).sources[0].objects[0] as { entries: unknown[]; warnings: string[] };
    expect(crl.entries).toHaveLength(100_000);
    expect(crl.warnings.length).toBeLessThanOrEqual(101);
  });

  it('an 8 MB RSA modulus in lint is reported as too large, the other certificates are linted', SLOW, () => {
    mkdirSync(join(dir, 'rsa'));
    writeFileSync(join(dir, 'rsa', 'huge.der'), hugeRsaCert(ca, 8 * 1024 * 1024));
    writeFileSync(join(dir, 'rsa', 'ok.pem'), makeLeaf(ca, 'CN=ok').toPem());
    const r = cli(['lint', join(dir, 'rsa'), '-o', 'json']);
    expectFinished(r, [0, 1]);
    const report = JSON.parse(r.stdout);
    expect(report.certificates).toBe(2);
    expect(JSON.stringify(report.findings)).toMatch(/too large: an RSA modulus of about 67108864 bits/);
  });

  it('10k certificates sharing one key: lint finishes within the heap budget with bounded findings', SLOW, () => {
    const kp = generateKey('ecdsa-p256');
    const parts: string[] = [];
    for (let i = 0; i < 10_000; i++)
      parts.push(
        issueCertificate({
          profile: { subject: `CN=shared-${i}`, validity: { days: 5 } },
          publicKey: kp.publicKey,
          issuer: { cert: ca.cert, key: ca.kp.privateKey },
        }).toPem(),
      );
    write('shared.pem', parts.join(''));
    const r = cli(['lint', 'shared.pem', '-o', 'json']);
    expectFinished(r, [0, 1]);
    const report = JSON.parse(r.stdout) as { findings: { lintId: string; message: string }[] };
    const shared = report.findings.filter((f) => f.lintId === 'k8s.key.shared-across-roles');
    expect(shared).toHaveLength(10_000);
    expect(shared[0]?.message).toMatch(/and 9989 more$/);
  });
});

describe('item 10: key-derivation budgets', () => {
  it('an encrypted PKCS#8 key with 2^31-1 PBKDF2 iterations is refused before deriving', SLOW, () => {
    write('iter.key', claimedIterationsKeyPem(2 ** 31 - 1));
    expectRefused(cli(['inspect', 'iter.key', '--password', 'pw']), /iteration count 2147483647 is out of range/);
  });

  it('the budget is per file: many encrypted keys each under the cap still stop at the file budget', SLOW, () => {
    const kp = generateKey('ecdsa-p256');
    const one = encryptedKeyPem(kp, 'pw', 1_500_000);
    write('many-keys.pem', one.repeat(11));
    expectRefused(cli(['inspect', 'many-keys.pem', '--password', 'pw']), /too large: .*per-file budget/);
    // The same key alone reads: the budget is not the per-derivation cap.
    write('one-key.pem', one);
    expectFinished(cli(['inspect', 'one-key.pem', '--password', 'pw']), [0]);
  });

  it('a PKCS#12 with 10 shrouded bags at 1.9M iterations each is refused at the file budget', SLOW, () => {
    write('bags.p12', manyBagPkcs12(generateKey('ecdsa-p256'), 'pw', 10, 1_900_000));
    expectRefused(cli(['inspect', 'bags.p12', '--password', 'pw']), /too large: .*per-file budget/);
  });
});

describe('item 11: decoys cannot hide a valid path', () => {
  it('64 certificates with the intermediate name and SKI placed first: the chain is still trusted', SLOW, () => {
    const inter = makeCa('CN=Real Intermediate', ca);
    const leaf = makeLeaf(inter, 'CN=svc', { dns: ['svc.example'] });
    write('decoy-leaf.pem', leaf.toPem());
    write('decoy-pool.pem', [...decoys(ca, inter.cert, 64).map((c) => c.toPem()), inter.cert.toPem()].join(''));
    const r = cli(['verify', 'decoy-leaf.pem', '--roots', 'root.pem', '--intermediates', 'decoy-pool.pem', '-o', 'json']);
    expectFinished(r, [0]);
    expect(JSON.parse(r.stdout).trusted).toBe(true);
    // openssl agrees that the real chain verifies.
    write('real-inter.pem', inter.cert.toPem());
    expect(
      execFileSync('openssl', ['verify', '-CAfile', 'root.pem', '-untrusted', 'real-inter.pem', 'decoy-leaf.pem'], {
        cwd: dir,
        encoding: 'utf8',
      }),
    ).toMatch(/OK/);
  });
});

describe('item 12: signature BIT STRING unused bits', () => {
  it('unused bits 9 is not DER: refused; unused bits 1 never verifies (openssl refuses it too)', SLOW, () => {
    write('root.pem', ca.cert.toPem());
    const leaf = makeLeaf(ca, 'CN=bits', { dns: ['bits.example'] });
    write('bits0.pem', leaf.toPem());
    expectFinished(cli(['verify', 'bits0.pem', '--roots', 'root.pem']), [0]);
    write('bits9.pem', pemOf('CERTIFICATE', withSignatureUnusedBits(leaf, 9)));
    expectRefused(cli(['verify', 'bits9.pem', '--roots', 'root.pem']), /unused bits/);
    write('bits1.pem', pemOf('CERTIFICATE', withSignatureUnusedBits(leaf, 1)));
    expectFinished(cli(['verify', 'bits1.pem', '--roots', 'root.pem']), [1]);
    const o = spawnSync('openssl', ['verify', '-CAfile', 'root.pem', 'bits1.pem'], { cwd: dir, encoding: 'utf8' });
    expect(o.status).not.toBe(0);
  });
});
