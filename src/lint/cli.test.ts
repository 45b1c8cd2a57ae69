// `anchorage lint` through its exported functions: reading a kubeadm-shaped tree, output formats,
// exit codes, and one-line input errors.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { lintPaths, renderLint } from '../../test/support/lint-report.ts';
import { DAY, issue, NOW, newCa } from '../../test/support/lint-testkit.ts';
import { lintCommand, register } from '../cli/commands/lint.ts';
import { InputError } from '../common/errors.ts';
import { writeKubeconfig } from '../k8s/kubeconfig.ts';

// The command writes what it streams straight to file descriptor 1 (writeStdoutSync); here it goes through
// process.stdout.write, which this file captures.
vi.mock('../cli/output.ts', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../cli/output.ts')>()),
  writeStdoutSync: (chunk: string): void => {
    process.stdout.write(chunk);
  },
}));

const dir = mkdtempSync(join(tmpdir(), 'anchorage-lint-'));
const pki = join(dir, 'pki');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = NOW.toISOString();

beforeAll(() => {
  mkdirSync(join(pki, 'etcd'), { recursive: true });
  const ca = newCa('CN=kubernetes');
  const etcdCa = newCa('CN=etcd-ca', {}, new Date(NOW.getTime() - 400 * DAY));
  writeFileSync(join(pki, 'ca.crt'), ca.cert.toPem());
  writeFileSync(join(pki, 'etcd', 'ca.crt'), etcdCa.cert.toPem());
  // The apiserver lacks the service IP and the cluster-domain name: two error-level gaps, one finding.
  const api = issue(ca, {
    subject: 'CN=kube-apiserver',
    sans: { dns: ['cp1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'] },
  });
  writeFileSync(join(pki, 'apiserver.crt'), api.toPem());
  const etcd = issue(etcdCa, {
    subject: 'CN=cp1',
    sans: { dns: ['cp1', 'localhost'], ip: ['127.0.0.1', '::1'] },
    extKeyUsage: ['serverAuth', 'clientAuth'],
    validity: { notBefore: new Date(NOW.getTime() - 300 * DAY), notAfter: new Date(NOW.getTime() + 20 * DAY) },
  });
  writeFileSync(join(pki, 'etcd', 'server.crt'), etcd.toPem());
  writeFileSync(join(pki, 'README.txt'), 'not a certificate\n');
  const admin = issue(ca, { subject: 'CN=kubernetes-admin,O=kubeadm:cluster-admins', sans: {}, extKeyUsage: ['clientAuth'] });
  writeFileSync(
    join(dir, 'admin.conf'),
    writeKubeconfig({
      clusterName: 'kubernetes',
      server: 'https://cp1:6443',
      caPem: ca.cert.toPem(),
      userName: 'kubernetes-admin',
      clientCertPem: admin.toPem(),
    }),
  );
  writeFileSync(join(dir, 'policy.yaml'), 'lints:\n  disabled: [k8s.apiserver.missing-san]\n');
  writeFileSync(join(dir, 'bad-policy.yaml'), 'expiry:\n  warningDays: soon\n');
});

let out = '';
beforeAll(() => {
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += typeof s === 'string' ? s : Buffer.from(s).toString();
    return true;
  });
});
afterEach(() => {
  out = '';
  process.exitCode = undefined;
});

describe('anchorage lint', () => {
  it('reads a tree of PEM files and kubeconfigs and finds what is wrong, with roles from the file names', () => {
    const r = lintPaths([dir], { at });
    expect(r.certificates).toBe(6);
    expect(r.findings.map((f) => [f.lintId, f.source?.slice(dir.length + 1)])).toEqual([
      ['k8s.apiserver.missing-san', 'pki/apiserver.crt'],
      ['x509.validity.expiring-soon', 'pki/etcd/server.crt'],
    ]);
    expect(r.findings[0]?.message).toBe('apiserver certificate lacks DNS:kubernetes.default.svc.cluster.local, IP:10.96.0.1');
    // Files with nothing to lint are listed, not fatal.
    expect(r.skipped.map((s) => s.source.slice(dir.length + 1))).toEqual(['bad-policy.yaml', 'pki/README.txt', 'policy.yaml']);
  });

  it('exits 1 on errors by default, 0 when the policy silences them, and 1 again with --fail-on warning', () => {
    expect(lintCommand([pki], { at })).toBe(1);
    expect(out).toMatch(/^SEVERITY\s+LINT\s+SUBJECT\s+FILE\s+MESSAGE/);
    // The table names the certificate by its subject, beside the file.
    expect(out).toMatch(/error\s+k8s\.apiserver\.missing-san\s+CN=kube-apiserver\s+\S*pki\/apiserver\.crt/);
    // Files without certificates are counted; --verbose lists them.
    expect(out).not.toContain('README.txt');
    expect(out).toContain('1 file without certificates skipped (--verbose lists them)');
    out = '';
    lintCommand([pki], { at, verbose: true });
    expect(out).toMatch(/skipped 1: \S*README\.txt \(/);
    expect(out).toContain('4 certificates: 1 error, 1 warning, 0 notices');
    expect(out.indexOf('error ')).toBeLessThan(out.indexOf('warning '));
    const policy = join(dir, 'policy.yaml');
    expect(lintCommand([pki], { at, policy })).toBe(0);
    expect(lintCommand([pki], { at, policy, failOn: 'warning' })).toBe(1);
  });

  it('catches, in a folder, a leaf whose issuer key is not the CA key (same CA name, re-keyed CA)', () => {
    const d = join(dir, 'rekeyed');
    mkdirSync(d);
    const oldCa = newCa('CN=kubernetes');
    const newCaSameName = newCa('CN=kubernetes');
    writeFileSync(join(d, 'ca.crt'), newCaSameName.cert.toPem());
    writeFileSync(
      join(d, 'front-proxy-client.crt'),
      issue(oldCa, { subject: 'CN=web.example.com', sans: { dns: ['web.example.com'] } }).toPem(),
    );
    const r = lintPaths([d], { at });
    expect(r.findings.map((f) => f.lintId)).toContain('x509.signature.not-by-issuer');
    const f = r.findings.find((x) => x.lintId === 'x509.signature.not-by-issuer');
    expect(f?.message).toMatch(
      /its issuer CN=kubernetes is in the set, but that CA's key did not sign it \(it names key id [0-9a-f]+; the CA's is [0-9a-f]+\)/,
    );
    // With the right CA beside it, nothing to report.
    writeFileSync(join(d, 'old-ca.crt'), oldCa.cert.toPem());
    expect(lintPaths([d], { at }).findings.filter((x) => x.lintId === 'x509.signature.not-by-issuer')).toEqual([]);
  });

  it('does not call a single leaf in a file named *-ca.pem a CA file, and shows invisible characters in names', () => {
    const d = join(dir, 'names');
    mkdirSync(d);
    const ca = newCa('CN=Some CA');
    writeFileSync(join(d, 'web-ca.pem'), issue(ca, { subject: 'CN=web.example.com', sans: { dns: ['web.example.com'] } }).toPem());
    const zw = issue(ca, {
      subject: [[{ type: '2.5.4.3', name: 'CN', value: 'web.example.com\u0007' }]],
      sans: { dns: ['web.example.com'] },
    });
    writeFileSync(join(d, 'web.pem'), zw.toPem());
    const r = lintPaths([d], { at });
    expect(r.findings.filter((f) => f.lintId === 'k8s.bundle.non-ca')).toEqual([]);
    const cn = r.findings.find((f) => f.lintId === 'x509.server.cn-not-in-san');
    expect(cn?.message).toBe('CN "web.example.com\\u0007" is not among the SANs (web.example.com)');
    expect(r.findings.find((f) => f.lintId === 'x509.subject.control-character')?.message).toBe(
      'CN "web.example.com\\u0007" contains a control character',
    );
  });

  it('names the kubeconfig field a certificate came from', () => {
    const r = lintPaths([join(dir, 'admin.conf')], { at });
    expect(r.certificates).toBe(2);
    expect(r.findings).toEqual([]);
    expect(renderLint(r)).toBe('2 certificates: 0 errors, 0 warnings, 0 notices\n');
    const late = lintPaths([join(dir, 'admin.conf')], { at: new Date(NOW.getTime() + 80 * DAY).toISOString() });
    expect(late.findings.map((f) => f.location)).toEqual(['users[kubernetes-admin].client-certificate-data line 1']);
  });

  it('prints JSON, YAML and SARIF', () => {
    lintCommand([pki], { at, output: 'json' });
    const j = JSON.parse(out);
    expect(j.summary).toEqual({ error: 1, warning: 1, notice: 0 });
    expect(j.findings[0]).toMatchObject({ lintId: 'k8s.apiserver.missing-san', severity: 'error' });
    out = '';
    lintCommand([pki], { at, output: 'yaml' });
    expect(out).toMatch(/^certificates: 4$/m);
    out = '';
    lintCommand([pki], { at, output: 'sarif' });
    const s = JSON.parse(out);
    expect(s.version).toBe('2.1.0');
    expect(s.runs[0].results.map((x: { ruleId: string }) => x.ruleId)).toEqual([
      'k8s.apiserver.missing-san',
      'x509.validity.expiring-soon',
    ]);
  });

  it('turns bad input into one-line InputErrors', () => {
    const bad = (f: () => unknown, re: RegExp): void => {
      expect(f).toThrow(InputError);
      expect(f).toThrow(re);
    };
    bad(() => lintCommand([pki], { output: 'xml' }), /unknown output format 'xml'/);
    bad(() => lintCommand([pki], { failOn: 'fatal' }), /--fail-on: 'fatal' is not a severity/);
    bad(() => lintCommand([join(dir, 'nope')]), /nope: no such file or directory/);
    bad(() => lintCommand([join(pki, 'README.txt')]), /README\.txt: /);
    bad(() => lintCommand([pki], { policy: join(dir, 'bad-policy.yaml') }), /bad-policy\.yaml: expiry\.warningDays: /);
    bad(() => lintCommand([pki], { at: 'yesterday' }), /--at: 'yesterday' is not a time/);
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    bad(() => lintCommand([empty]), /no certificates found/);
  });

  it('registers `lint` with commander and sets the exit code', async () => {
    const program = new Command().exitOverride();
    register(program);
    await program.parseAsync(['lint', pki, '--at', at, '-o', 'yaml', '--fail-on', 'warning'], { from: 'user' });
    expect(process.exitCode).toBe(1);
    expect(out).toMatch(/^certificates: 4$/m);
  });
});
