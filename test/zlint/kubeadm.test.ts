// The real kubeadm's own output (pinned v1.36.3: init phase certs all + kubeconfig all, ECDSA and RSA)
// lints with no error and no warning a kubeadm user cannot act on, and zlint agrees with Anchorage on
// every certificate it wrote.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { K8S_BUILD_TIMEOUT_MS, kubeBinDir } from '../support/k8s.ts';
import { lintPaths } from '../support/lint-report.ts';
import { ZLINT_GROUPS } from './mapping.ts';
import { runZlint, zlintFired } from './zlint.ts';

const root = mkdtempSync(join(tmpdir(), 'anchorage-kubeadm-lint-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let kubeadm = '';

beforeAll(async () => {
  kubeadm = join(await kubeBinDir(), 'kubeadm');
}, K8S_BUILD_TIMEOUT_MS);

/** Run kubeadm's certificate and kubeconfig phases into a fresh folder; returns it. */
function kubeadmTree(algorithm: 'ECDSA-P256' | 'RSA-2048'): string {
  const dir = join(root, algorithm);
  const cfg = join(root, `${algorithm}.yaml`);
  writeFileSync(
    cfg,
    `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 10.0.0.10
  bindPort: 6443
nodeRegistration:
  name: cp1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.36.3
certificatesDir: ${dir}/pki
encryptionAlgorithm: ${algorithm}
controlPlaneEndpoint: 10.0.0.10:6443
networking:
  dnsDomain: cluster.local
  serviceSubnet: 10.96.0.0/12
`,
  );
  execFileSync(kubeadm, ['init', 'phase', 'certs', 'all', '--config', cfg], { stdio: 'pipe' });
  execFileSync(kubeadm, ['init', 'phase', 'kubeconfig', 'all', '--config', cfg, '--kubeconfig-dir', dir], { stdio: 'pipe' });
  return dir;
}

function walk(d: string): string[] {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const NOW = new Date();

describe.each(['ECDSA-P256', 'RSA-2048'] as const)('the real kubeadm v1.36.3 output, %s', (alg) => {
  let dir = '';
  beforeAll(() => {
    dir = kubeadmTree(alg);
  }, 120_000);

  it('lints with no error and no warning under the default policy', () => {
    const out = lintPaths([dir], {}, NOW);
    expect(out.certificates).toBeGreaterThanOrEqual(14);
    const loud = out.findings.filter((f) => f.severity !== 'notice').map((f) => `${f.severity} ${f.lintId} ${f.source}: ${f.message}`);
    expect(loud).toEqual([]);
    // What kubeadm does by design stays visible as notices: no leaf SKI (Go never sets one).
    const notices = new Set(out.findings.map((f) => f.lintId));
    expect(notices.has('x509.leaf.ski-missing')).toBe(true);
    if (alg === 'ECDSA-P256') expect(notices.has('x509.key-usage.key-encipherment-non-rsa')).toBe(true);
    else expect(notices.has('x509.ca.rsa-key-encipherment')).toBe(true);
  });

  it('under the strict profile, what kubeadm does by design is a warning again', () => {
    const out = lintPaths([dir], { policy: writePolicy('profile: strict\n') }, NOW);
    const warned = new Set(out.findings.filter((f) => f.severity === 'warning').map((f) => f.lintId));
    expect(warned.has('x509.leaf.ski-missing')).toBe(true);
    expect(out.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('zlint and Anchorage agree on every certificate kubeadm wrote', () => {
    const files = walk(join(dir, 'pki')).filter((f) => f.endsWith('.crt'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    const z = runZlint(files);
    const out = lintPaths(files, {}, NOW);
    const diffs: string[] = [];
    for (const f of files) {
      const r = z.get(f);
      expect(r?.parseError, f).toBeUndefined();
      const fired = new Set(out.findings.filter((x) => x.source === f).map((x) => x.lintId));
      for (const [names, ids] of ZLINT_GROUPS) {
        const zf = names.some((n) => r !== undefined && zlintFired(r, n) === true);
        const af = ids.some((id) => fired.has(id));
        if (zf !== af) diffs.push(`${f}: zlint ${names.join('|')} ${zf}; Anchorage ${ids.join('|')} ${af}`);
      }
    }
    expect(diffs).toEqual([]);
  });
});

function writePolicy(text: string): string {
  const p = join(root, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, text);
  return p;
}
