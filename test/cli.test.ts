// End to end: the CLI as a user runs it, with openssl and keytool as the judges.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const main = join(root, 'src', 'cli', 'main.ts');
// The project's Node 24 (type stripping), whatever Node runs the test runner.
const node = existsSync(join(root, 'node_modules', '.bin', 'node')) ? join(root, 'node_modules', '.bin', 'node') : process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'anchorage-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(
  args: string[],
  input?: string | Buffer,
  o: { umask?: string; env?: NodeJS.ProcessEnv } = {},
): { code: number; stdout: string; stderr: string } {
  const r =
    o.umask === undefined
      ? spawnSync(node, [main, ...args], { cwd: dir, input, encoding: 'utf8', timeout: 60_000, env: o.env ?? process.env })
      : spawnSync('sh', ['-c', `umask ${o.umask} && exec "$0" "$@"`, node, main, ...args], {
          cwd: dir,
          input,
          encoding: 'utf8',
          timeout: 60_000,
          env: o.env ?? process.env,
        });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const ok = (args: string[], input?: string | Buffer): string => {
  const r = cli(args, input);
  if (r.code !== 0) throw new Error(`anchorage ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const ossl = (...args: string[]): string =>
  execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const mode = (f: string): number => statSync(join(dir, f)).mode & 0o777;

function expectBadInput(args: string[], pattern: RegExp, input?: string | Buffer): void {
  const r = cli(args, input);
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  expect(r.stderr).not.toMatch(/\.tmp\b/);
}
/** Every file under `d` (recursively), for "nothing else was written" checks. */
const tree = (d: string): string[] => readdirSync(d, { recursive: true, encoding: 'utf8' }).sort();
const sha = (f: string): string =>
  createHash('sha256')
    .update(readFileSync(join(dir, f)))
    .digest('hex');

describe('anchorage cert', () => {
  it('makes a root, an intermediate, a leaf, a CSR, a signed cert and a CRL that openssl accepts', () => {
    ok(['cert', 'ca', '--subject', 'CN=Root CA,O=Acme', '--out', 'root.crt', '--key-type', 'rsa-2048']);
    expect(mode('root.key')).toBe(0o600);
    ok([
      'cert',
      'ca',
      '--subject',
      'CN=Issuing CA',
      '--out',
      'int.crt',
      '--parent',
      'root.crt',
      '--parent-key',
      'root.key',
      '--path-len',
      '0',
      '--permit',
      'example.com,10.0.0.0/8',
    ]);
    ok([
      'cert',
      'issue',
      '--ca',
      'int.crt',
      '--ca-key',
      'int.key',
      '--subject',
      'CN=web.example.com',
      '--san',
      'DNS:web.example.com,IP:10.1.1.1',
      '--out',
      'web.crt',
      '--crl-url',
      'http://crl.example.com/int.crl',
    ]);
    expect(mode('web.key')).toBe(0o600);
    expect(mode('web.crt')).toBe(0o644);
    expect(
      ossl(
        'verify',
        '-x509_strict',
        '-purpose',
        'sslserver',
        '-verify_hostname',
        'web.example.com',
        '-CAfile',
        'root.crt',
        '-untrusted',
        'int.crt',
        'web.crt',
      ).trim(),
    ).toBe('web.crt: OK');
    const text = ossl('x509', '-in', 'web.crt', '-noout', '-text');
    expect(text).toContain('URI:http://crl.example.com/int.crl');

    ok([
      'cert',
      'csr',
      '--subject',
      'CN=client-1,O=team',
      '--san',
      'URI:spiffe://cluster.local/ns/a/sa/b',
      '--out',
      'client.csr',
      '--key-type',
      'ed25519',
    ]);
    expect(ossl('req', '-in', 'client.csr', '-noout', '-verify', '-text')).toContain('URI:spiffe://cluster.local/ns/a/sa/b');
    ok([
      'cert',
      'sign',
      'client.csr',
      '--ca',
      'int.crt',
      '--ca-key',
      'int.key',
      '--profile',
      'client',
      '--out',
      'client.crt',
      '--days',
      '30',
    ]);
    expect(ossl('verify', '-purpose', 'sslclient', '-CAfile', 'root.crt', '-untrusted', 'int.crt', 'client.crt').trim()).toBe(
      'client.crt: OK',
    );

    ok(['cert', 'crl', '--ca', 'int.crt', '--ca-key', 'int.key', '--revoke', 'client.crt:keyCompromise', '--out', 'int.crl']);
    expect(ossl('crl', '-in', 'int.crl', '-noout', '-text', '-CAfile', 'int.crt')).toContain('Key Compromise');
    writeFileSync(join(dir, 'chain.pem'), readFileSync(join(dir, 'root.crt'), 'utf8') + readFileSync(join(dir, 'int.crt'), 'utf8'));
    expect(() => ossl('verify', '-crl_check', '-CRLfile', 'int.crl', '-CAfile', 'chain.pem', 'client.crt')).toThrow(/revoked/);
  });

  it('converts to PKCS#12 (modern and legacy), JKS, PKCS#7 and DER that openssl and keytool open', () => {
    ok(['cert', 'convert', 'web.crt', 'web.key', 'int.crt', '--to', 'pkcs12', '--password', 'changeit', '--out', 'web.p12']);
    expect(mode('web.p12')).toBe(0o600);
    expect(ossl('pkcs12', '-in', 'web.p12', '-passin', 'pass:changeit', '-nokeys', '-info')).toContain('subject=CN = web.example.com');
    ok(['cert', 'convert', 'web.crt', 'web.key', '--to', 'pkcs12-legacy', '--password', 'changeit', '--out', 'web-legacy.p12']);
    const kt = execFileSync(
      'keytool',
      ['-list', '-keystore', join(dir, 'web-legacy.p12'), '-storepass', 'changeit', '-storetype', 'PKCS12'],
      { encoding: 'utf8' },
    );
    expect(kt).toMatch(/PrivateKeyEntry/);
    ok(['cert', 'convert', 'root.crt', 'int.crt', '--to', 'jks', '--password', 'changeit', '--out', 'trust.jks']);
    const jks = execFileSync('keytool', ['-list', '-keystore', join(dir, 'trust.jks'), '-storepass', 'changeit', '-storetype', 'JKS'], {
      encoding: 'utf8',
    });
    expect(jks).toMatch(/contains 2 entries/);
    ok(['cert', 'convert', 'root.crt', 'int.crt', '--to', 'pkcs7', '--out', 'chain.p7b']);
    expect(ossl('pkcs7', '-inform', 'DER', '-in', 'chain.p7b', '-print_certs', '-noout')).toContain('subject=CN = Issuing CA');
    ok(['cert', 'convert', 'web.crt', '--to', 'der', '--out', 'web.der']);
    expect(ossl('x509', '-inform', 'DER', '-in', 'web.der', '-noout', '-subject').trim()).toBe('subject=CN = web.example.com');
  });

  it('refuses a key that does not belong to the CA, and writes nothing', () => {
    const before = readdirSync(dir).length;
    expectBadInput(
      ['cert', 'issue', '--ca', 'root.crt', '--ca-key', 'int.key', '--subject', 'CN=x', '--out', 'nope.crt'],
      /int\.key is not the private key of root\.crt/,
    );
    expect(existsSync(join(dir, 'nope.crt'))).toBe(false);
    expect(readdirSync(dir).length).toBe(before);
  });

  it('refuses to overwrite without --force', () => {
    expectBadInput(['cert', 'ca', '--subject', 'CN=again', '--out', 'root.crt'], /root\.crt already exists/);
  });

  it('rejects bad flags with one line', () => {
    expectBadInput(['cert', 'ca', '--subject', 'CN=x', '--out', 'k.crt', '--key-type', 'rsa-1024'], /key type 'rsa-1024'/);
    expectBadInput(['cert', 'ca', '--subject', 'CN=x', '--out', 'k.crt', '--days', '-3'], /days '-3' must be a positive number/);
    expectBadInput(['cert', 'ca', '--subject', 'XX=x', '--out', 'k.crt'], /unknown attribute type 'XX'/);
  });
});

describe('anchorage inspect', () => {
  it('reads PEM with text around blocks, CRLF, and names the certificate each key belongs to', () => {
    const pem = `Bag Attributes: junk\r\n${readFileSync(join(dir, 'web.crt'), 'utf8').replaceAll('\n', '\r\n')}trailing words\n${readFileSync(join(dir, 'web.key'), 'utf8')}`;
    writeFileSync(join(dir, 'mixed.pem'), pem);
    const report = JSON.parse(ok(['inspect', 'mixed.pem', '-o', 'json']));
    expect(report.schema).toBe('anchorage.inspect/v1');
    const [cert, key] = report.sources[0].objects;
    expect(cert.kind).toBe('certificate');
    expect(cert.subject).toBe('CN=web.example.com');
    expect(cert.subjectAltNames.ip).toEqual(['10.1.1.1']);
    expect(cert.fingerprints.sha256.toUpperCase()).toBe(
      ossl('x509', '-in', 'web.crt', '-noout', '-fingerprint', '-sha256').split('=')[1]?.trim().replaceAll(':', ''),
    );
    expect(key.kind).toBe('private-key');
    expect(key.matchesCertificates[0].subject).toBe('CN=web.example.com');
  });

  it('reads DER, PKCS#7, PKCS#12, JKS, CSR and CRL files in a directory, in YAML too', () => {
    const out = ok(['inspect', '.', '--password', 'changeit', '-o', 'yaml']);
    for (const f of ['web.der', 'chain.p7b', 'web.p12', 'trust.jks', 'client.csr', 'int.crl']) expect(out).toContain(`source: ${f}`);
    const report = JSON.parse(
      ok(['inspect', 'web.p12', 'trust.jks', 'chain.p7b', 'client.csr', 'int.crl', '--password', 'changeit', '-o', 'json']),
    );
    const formats = report.sources.map((s: { format: string }) => s.format);
    expect(formats).toEqual(['pkcs12', 'jks', 'pkcs7', 'pem', 'pem']);
    expect(report.sources[0].objects.map((o: { kind: string }) => o.kind).sort()).toEqual(['certificate', 'certificate', 'private-key']);
    expect(report.sources[3].objects[0].kind).toBe('csr');
    expect(report.sources[4].objects[0].entries).toHaveLength(1);
  });

  it('reads certificates embedded in a kubeconfig and from stdin', () => {
    ok(['demo', '--dir', dir]);
    const report = JSON.parse(ok(['inspect', 'admin.conf', '-o', 'json']));
    expect(report.sources[0].format).toBe('kubeconfig');
    const locs = report.sources[0].objects.map((o: { location: string }) => o.location);
    expect(locs).toEqual([
      'clusters[demo].certificate-authority-data line 1',
      'users[kubernetes-admin].client-certificate-data line 1',
      'users[kubernetes-admin].client-key-data line 1',
    ]);
    const viaStdin = ok(['inspect', '-'], readFileSync(join(dir, 'ca.crt')));
    expect(viaStdin).toContain('Certificate CN=kubernetes');
  });

  it('shows the human summary with expiry in words', () => {
    const out = ok(['inspect', 'kubelet-client-worker-1.pem']);
    expect(out).toMatch(/EXPIRED 7d ago/);
    expect(out).toContain('Matches:');
  });

  it('fails with one line on garbage, truncation, wrong passwords and missing files', () => {
    writeFileSync(join(dir, 'garbage.bin'), Buffer.from([0x30, 0x82, 0x05, 0x00, 1, 2, 3]));
    expectBadInput(['inspect', 'garbage.bin'], /garbage\.bin: .*truncated/);
    const crt = readFileSync(join(dir, 'web.crt'), 'utf8');
    writeFileSync(join(dir, 'trunc.pem'), crt.slice(0, crt.length - 40));
    expectBadInput(['inspect', 'trunc.pem'], /trunc\.pem: PEM block 'CERTIFICATE' starting on line 1 has no END line/);
    expectBadInput(['inspect', 'web.p12', '--password', 'wrong'], /web\.p12: .*wrong password/);
    expectBadInput(['inspect', 'web.p12'], /needs a password/);
    expectBadInput(['inspect', 'trust.jks', '--password', 'nope'], /wrong password/);
    expectBadInput(['inspect', 'missing.pem'], /missing\.pem: no such file or directory/);
    expectBadInput(['inspect', 'web.crt', '-o', 'xml'], /unknown output format 'xml'/);
    ossl('pkcs8', '-topk8', '-in', 'web.key', '-out', 'enc.key', '-passout', 'pass:secret', '-v2', 'aes-256-cbc');
    expectBadInput(['inspect', 'enc.key', '--password', 'bad'], /wrong password/);
    expect(JSON.parse(ok(['inspect', 'enc.key', '--password', 'secret', '-o', 'json'])).sources[0].objects[0].kind).toBe('private-key');
  });
});

describe('anchorage verify', () => {
  it('exits 0 when trusted, 1 when not (with the reason), 2 on bad input', () => {
    expect(
      cli(['verify', 'web.crt', '--roots', 'root.crt', '--intermediates', 'int.crt', '--purpose', 'server', '--host', 'web.example.com'])
        .code,
    ).toBe(0);
    const wrongHost = cli([
      'verify',
      'web.crt',
      '--roots',
      'root.crt',
      '--intermediates',
      'int.crt',
      '--host',
      'other.example.com',
      '-o',
      'json',
    ]);
    expect(wrongHost.code).toBe(1);
    expect(JSON.parse(wrongHost.stdout).code).toBe('HOST_MISMATCH');
    const revoked = cli(['verify', 'client.crt', '--roots', 'root.crt', '--intermediates', 'int.crt', '--crl', 'int.crl']);
    expect(revoked.code).toBe(1);
    expect(revoked.stdout).toContain('REVOKED');
    expectBadInput(['verify', 'garbage.bin', '--roots', 'root.crt'], /garbage\.bin/);
  });
});

describe('anchorage lint', () => {
  it('finds the demo flaws, fails on errors, and writes SARIF', () => {
    const r = cli(['lint', 'kubelet-client-worker-1.pem', 'ca.crt', '-o', 'json']);
    expect(r.code).toBe(1);
    const ids = JSON.parse(r.stdout).findings.map((f: { lintId: string }) => f.lintId);
    expect(ids).toContain('x509.validity.expired');
    expect(ids).toContain('k8s.role.kubelet-client-subject');
    expect(cli(['lint', 'web.crt', '--fail-on', 'error']).code).toBe(0);
    const sarif = JSON.parse(ok(['lint', 'web.crt', '-o', 'sarif']));
    expect(sarif.version).toBe('2.1.0');
    writeFileSync(join(dir, 'bad-policy.yaml'), 'expiry:\n  warnDayz: 3\n');
    expectBadInput(['lint', 'web.crt', '--policy', 'bad-policy.yaml'], /bad-policy\.yaml: expiry\.warnDayz/);
  });
});

describe('anchorage cert: what it writes, and what it refuses to write', () => {
  it('writes private keys 0600 in every format, --to der included', () => {
    ok(['cert', 'convert', 'web.key', '--to', 'der', '--out', 'web-key.der']);
    expect(mode('web-key.der')).toBe(0o600);
    expect(ossl('pkey', '-inform', 'DER', '-in', 'web-key.der', '-noout', '-text')).toContain('Private-Key');
    ok(['cert', 'convert', 'web.crt', 'web.key', '--to', 'pem', '--out', 'web-both.pem']);
    expect(mode('web-both.pem')).toBe(0o600);
    ok(['cert', 'convert', 'web.crt', 'web.key', 'int.crt', '--to', 'jks', '--password', 'changeit', '--out', 'web-key.jks']);
    expect(mode('web-key.jks')).toBe(0o600);
    ok(['cert', 'convert', 'root.crt', '--to', 'der', '--out', 'root.der']);
    expect(mode('root.der')).toBe(0o644);
  });

  it('honours the umask for certificates (never wider than 0644); keys stay 0600', () => {
    for (const [umask, want] of [
      ['077', 0o600],
      ['027', 0o640],
      ['002', 0o644],
    ] as const) {
      const r = cli(['cert', 'ca', '--subject', `CN=umask ${umask}`, '--out', `umask-${umask}.crt`], undefined, { umask });
      expect(r.stderr).toBe('');
      expect(mode(`umask-${umask}.crt`)).toBe(want);
      expect(mode(`umask-${umask}.key`)).toBe(0o600);
    }
  });

  it('--key-out naming an existing folder refuses with one line, replaces nothing and leaves no temp file', () => {
    ok(['cert', 'issue', '--ca', 'int.crt', '--ca-key', 'int.key', '--subject', 'CN=keep', '--out', 'keep.crt']);
    mkdirSync(join(dir, 'keys-folder'));
    const [crt, key, before] = [sha('keep.crt'), sha('keep.key'), tree(dir)];
    expectBadInput(
      [
        'cert',
        'issue',
        '--ca',
        'int.crt',
        '--ca-key',
        'int.key',
        '--subject',
        'CN=keep',
        '--out',
        'keep.crt',
        '--key-out',
        'keys-folder',
        '--force',
      ],
      /cannot write keys-folder: is a directory/,
    );
    expect([sha('keep.crt'), sha('keep.key'), tree(dir)]).toEqual([crt, key, before]);
  });

  it("never overwrites the issuing CA's certificate or key, however the path is spelt, even with --force", () => {
    const [crt, key, before] = [sha('int.crt'), sha('int.key'), tree(dir)];
    const issue = ['cert', 'issue', '--ca', 'int.crt', '--ca-key', 'int.key', '--subject', 'CN=x', '--force'];
    expectBadInput([...issue, '--out', 'int.crt', '--key-out', 'x.key'], /refusing to write int\.crt: .*would overwrite the issuing CA/);
    expectBadInput(
      [...issue, '--out', 'x.crt', '--key-out', './int.key'],
      /refusing to write \.\/int\.key: .*would overwrite the issuing CA/,
    );
    expectBadInput([...issue, '--out', join(dir, 'int.crt')], /would overwrite the issuing CA/);
    symlinkSync(join(dir, 'int.key'), join(dir, 'int-link.key'));
    expectBadInput([...issue, '--out', 'x.crt', '--key-out', 'int-link.key'], /would overwrite the issuing CA/);
    rmSync(join(dir, 'int-link.key'));
    expectBadInput(
      ['cert', 'ca', '--subject', 'CN=y', '--parent', 'root.crt', '--parent-key', 'root.key', '--out', 'root.crt', '--force'],
      /would overwrite the issuing CA/,
    );
    expectBadInput(['cert', 'sign', 'client.csr', '--ca', 'int.crt', '--ca-key', 'int.key', '--out', 'int.crt', '--force'], /issuing CA/);
    expectBadInput(['cert', 'crl', '--ca', 'int.crt', '--ca-key', 'int.key', '--out', 'int.key', '--force'], /issuing CA/);
    expect([sha('int.crt'), sha('int.key'), tree(dir)]).toEqual([crt, key, before]);
  });

  it('refuses one file named as two outputs, and errors name the target, never a temp file', () => {
    const before = tree(dir);
    const issue = ['cert', 'issue', '--ca', 'int.crt', '--ca-key', 'int.key', '--subject', 'CN=x'];
    expectBadInput([...issue, '--out', 'same.pem', '--key-out', 'same.pem'], /same\.pem and same\.pem are the same file/);
    expectBadInput([...issue, '--out', 'same.pem', '--key-out', './same.pem'], /are the same file/);
    expectBadInput([...issue, '--out', 'no-such-dir/x.crt'], /^error: cannot write no-such-dir\/x\.crt: directory does not exist$/m);
    expect(tree(dir)).toEqual(before);
  });
});

describe('anchorage cert convert: keystores keep keys and aliases, and are reproducible', () => {
  const keytoolList = (file: string, type: string): string =>
    execFileSync('keytool', ['-list', '-v', '-keystore', join(dir, file), '-storepass', 'changeit', '-storetype', type], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('--to jks writes a PrivateKeyEntry with its chain, under the alias the PKCS#12 gave it', () => {
    writeFileSync(join(dir, 'ca-chain.pem'), readFileSync(join(dir, 'int.crt'), 'utf8') + readFileSync(join(dir, 'root.crt'), 'utf8'));
    ossl(
      ...['pkcs12', '-export', '-in', 'web.crt', '-inkey', 'web.key', '-certfile', 'ca-chain.pem'],
      ...['-name', 'web-tls', '-passout', 'pass:changeit', '-out', 'openssl-web.p12'],
    );
    ok([
      'cert',
      'convert',
      'openssl-web.p12',
      '--in-password',
      'changeit',
      '--to',
      'jks',
      '--password',
      'changeit',
      '--out',
      'from-p12.jks',
    ]);
    const out = keytoolList('from-p12.jks', 'JKS');
    expect(out).toContain('Your keystore contains 1 entry');
    expect(out).toContain('Alias name: web-tls\n');
    expect(out).toContain('Entry type: PrivateKeyEntry');
    expect(out).toContain('Certificate chain length: 3');
    // keytool must decrypt the key to move it: the key survives.
    execFileSync('keytool', [
      ...['-importkeystore', '-noprompt', '-srckeystore', join(dir, 'from-p12.jks'), '-srcstoretype', 'JKS', '-srcstorepass', 'changeit'],
      ...['-destkeystore', join(dir, 'back.p12'), '-deststoretype', 'PKCS12', '-deststorepass', 'changeit'],
    ]);
    const pem = ossl('pkcs12', '-in', 'back.p12', '-nodes', '-passin', 'pass:changeit');
    writeFileSync(join(dir, 'back.pem'), pem);
    expect(ossl('pkey', '-in', 'back.pem', '-pubout')).toBe(ossl('x509', '-in', 'web.crt', '-noout', '-pubkey'));
  });

  it('PEM inputs get aliases from the content: subject CN and SHA-256 prefix', () => {
    ok(['cert', 'convert', 'web.crt', 'web.key', 'int.crt', 'root.crt', '--to', 'jks', '--password', 'changeit', '--out', 'pem-key.jks']);
    const fp = ossl('x509', '-in', 'web.crt', '-noout', '-fingerprint', '-sha256').split('=')[1]?.replaceAll(':', '').trim().toLowerCase();
    const out = keytoolList('pem-key.jks', 'JKS');
    expect(out).toContain(`Alias name: web.example.com-${fp?.slice(0, 8)}\n`);
    expect(out).toContain('Certificate chain length: 3');
  });

  it('refuses to drop a private key', () => {
    expectBadInput(
      ['cert', 'convert', 'web.key', 'root.crt', '--to', 'jks', '--password', 'changeit', '--out', 'drop.jks'],
      /private key #1 has no matching certificate/,
    );
    expectBadInput(['cert', 'convert', 'web.crt', 'web.key', '--to', 'pkcs7', '--out', 'drop.p7b'], /pkcs7 holds certificates only/);
    expect(existsSync(join(dir, 'drop.jks')) || existsSync(join(dir, 'drop.p7b'))).toBe(false);
  });

  it.each([
    ['jks truststore', ['root.crt', 'int.crt', '--to', 'jks'], 'JKS'],
    ['jks with a key', ['web.crt', 'web.key', 'int.crt', '--to', 'jks'], 'JKS'],
    ['pkcs12 truststore', ['root.crt', 'int.crt', '--to', 'pkcs12'], 'PKCS12'],
    ['pkcs12 with a key', ['web.crt', 'web.key', 'int.crt', '--to', 'pkcs12'], 'PKCS12'],
    ['legacy pkcs12 with a key', ['web.crt', 'web.key', '--to', 'pkcs12-legacy'], 'PKCS12'],
  ])('%s: written twice from the same inputs, byte-identical; keytool opens it', (name, args, type) => {
    const file = (i: number): string => `det-${name.replaceAll(' ', '-')}-${i}`;
    for (const i of [1, 2]) ok(['cert', 'convert', ...args, '--password', 'changeit', '--out', file(i)]);
    expect(sha(file(1))).toBe(sha(file(2)));
    expect(keytoolList(file(1), type)).toMatch(/Your keystore contains \d+ entr/);
  });
});

describe('anchorage demo', () => {
  it('scans a cluster PKI with planted faults, leaves no temp folder and says what to try next', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'anchorage-demo-tmp-'));
    const r = cli(['demo'], undefined, { env: { ...process.env, TMPDIR: tmp } });
    expect(r.code).toBe(0);
    // Each planted fault is found at its file (test/scan.test.ts checks the scan itself).
    expect(r.stdout).toMatch(/scan\.key\.ca-key-on-worker[\s\S]*at: +\S+\/cluster\/nodes\/worker-1\/etc\/kubernetes\/pki\/ca\.key/);
    expect(r.stdout).toMatch(/scan\.kubeconfig\.ca-did-not-sign-server[\s\S]*at: +\S+\/cluster\/nodes\/cp-1\/etc\/kubernetes\/admin\.conf/);
    expect(r.stdout).toMatch(/x509\.validity\.expired[\s\S]*at: +\S+\/cluster\/nodes\/worker-1\/var\/lib\/kubelet\/pki\/kubelet\.crt/);
    expect(r.stdout).toContain('anchorage demo --dir anchorage-demo');
    expect(readdirSync(tmp)).toEqual([]);
    rmSync(tmp, { recursive: true });
  });

  it('--dir: creates a missing folder, suggests commands that work, and overwrites only with --force', () => {
    const out = ok(['demo', '--dir', 'demo-out/nested']);
    expect(mode('demo-out/nested/ca.key')).toBe(0o600);
    const verifyLine = /anchorage (verify .*)$/m.exec(out)?.[1] as string;
    expect(verifyLine).toBe(
      'verify demo-out/nested/apiserver.crt --roots demo-out/nested/ca.crt --purpose server --host kubernetes.default.svc',
    );
    expect(cli(verifyLine.split(' ')).code).toBe(0);
    expect(out).toContain('anchorage lint demo-out/nested');
    const ca = sha('demo-out/nested/ca.crt');
    expectBadInput(['demo', '--dir', 'demo-out/nested'], /demo-out\/nested\/.* already exists \(use --force to overwrite\)/);
    expect(sha('demo-out/nested/ca.crt')).toBe(ca);
    ok(['demo', '--dir', 'demo-out/nested', '--force']);
    expect(sha('demo-out/nested/ca.crt')).not.toBe(ca);
    expectBadInput(['demo', '--dir', 'root.crt/sub'], /--dir root\.crt\/sub: cannot create the folder/);
  });
});

describe('output to a closed pipe', () => {
  it('stops quietly when the reader has gone (| true, | head), and the demo still cleans up', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'anchorage-pipe-tmp-'));
    const r = spawnSync('sh', ['-c', '"$0" "$1" demo | true', node, main], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, TMPDIR: tmp },
    });
    expect(r.stderr).toBe('');
    expect(readdirSync(tmp)).toEqual([]);
    rmSync(tmp, { recursive: true });
  });
});

describe('layout of the command line', () => {
  it('commands import shared cli modules and domain modules, never each other', () => {
    const cmds = join(root, 'src', 'cli', 'commands');
    for (const f of readdirSync(cmds).filter((n) => n.endsWith('.ts'))) {
      const imports = [...readFileSync(join(cmds, f), 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1] as string);
      expect(
        imports.filter((i) => i.startsWith('./') || i.includes('/commands/')),
        f,
      ).toEqual([]);
    }
  });

  it('every CLI write goes through src/cli/outputs.ts (no direct fs writes in commands)', () => {
    for (const f of readdirSync(join(root, 'src', 'cli'), { recursive: true, encoding: 'utf8' }).filter((n) => n.endsWith('.ts'))) {
      if (f === 'outputs.ts' || f.endsWith('.test.ts')) continue;
      const text = readFileSync(join(root, 'src', 'cli', f), 'utf8');
      expect(text, f).not.toMatch(/\b(writeFileSync|appendFileSync|renameSync|createWriteStream|writeFilesAtomic|writeFileAtomic)\b/);
    }
  });
});
