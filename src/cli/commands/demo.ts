// `anchorage demo`: a throw-away PKI in a temp folder, one certificate flawed on purpose, then `inspect`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeKubeconfig } from '../../k8s/kubeconfig.ts';
import { issueCertificate } from '../../x509/build.ts';
import { generateKey } from '../../x509/keys.ts';
import { inspectPaths, renderInspect } from './inspect.ts';

export interface DemoResult {
  dir: string;
  flawed: string;
}

/** Build the demo PKI under `dir` (a new temp folder by default). */
export function buildDemo(dir = mkdtempSync(join(tmpdir(), 'anchorage-demo-')), now = new Date()): DemoResult {
  const key = (k: { privateKey: { export(o: object): string | Buffer } }): string =>
    k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const write = (name: string, data: string, mode = 0o644): void => writeFileSync(join(dir, name), data, { mode });

  const caKp = generateKey('ecdsa-p256');
  const ca = issueCertificate({
    profile: {
      subject: 'CN=kubernetes',
      sans: { dns: ['kubernetes'] },
      ca: true,
      keyUsage: ['digitalSignature', 'keyEncipherment', 'keyCertSign'],
      validity: { days: 3650 },
    },
    publicKey: caKp.publicKey,
    signingKey: caKp.privateKey,
    now,
  });
  write('ca.crt', ca.toPem());
  write('ca.key', key(caKp), 0o600);

  const apiKp = generateKey('ecdsa-p256');
  const api = issueCertificate({
    profile: {
      subject: 'CN=kube-apiserver',
      sans: {
        dns: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
        ip: ['10.96.0.1', '127.0.0.1'],
      },
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['serverAuth'],
      validity: { days: 365 },
    },
    publicKey: apiKp.publicKey,
    issuer: { cert: ca, key: caKp.privateKey },
    now,
  });
  write('apiserver.crt', api.toPem());
  write('apiserver.key', key(apiKp), 0o600);

  const adminKp = generateKey('ecdsa-p256');
  const admin = issueCertificate({
    profile: {
      subject: 'O=kubeadm:cluster-admins,CN=kubernetes-admin',
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['clientAuth'],
      validity: { days: 365 },
    },
    publicKey: adminKp.publicKey,
    issuer: { cert: ca, key: caKp.privateKey },
    now,
  });
  write(
    'admin.conf',
    writeKubeconfig({
      clusterName: 'demo',
      server: 'https://127.0.0.1:6443',
      caPem: ca.toPem(),
      userName: 'kubernetes-admin',
      clientCertPem: admin.toPem(),
      clientKeyPem: key(adminKp),
    }),
    0o600,
  );

  // Flawed on purpose: a kubelet client certificate that expired a week ago and lacks the system:nodes group.
  const kubeletKp = generateKey('ecdsa-p256');
  const kubelet = issueCertificate({
    profile: {
      subject: 'CN=system:node:worker-1',
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      extKeyUsage: ['clientAuth'],
      validity: { notBefore: new Date(now.getTime() - 372 * 86400000), notAfter: new Date(now.getTime() - 7 * 86400000) },
    },
    publicKey: kubeletKp.publicKey,
    issuer: { cert: ca, key: caKp.privateKey },
    now,
  });
  write('kubelet-client-worker-1.pem', kubelet.toPem() + key(kubeletKp), 0o600);
  return { dir, flawed: 'kubelet-client-worker-1.pem: expired 7 days ago, subject lacks O=system:nodes, keyEncipherment on an ECDSA key' };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('create a throw-away CA and a few certificates (one flawed on purpose) in a temp folder and inspect them')
    .option('--dir <dir>', 'write into this existing folder instead of a new temp folder')
    .action((o: { dir?: string }) => {
      const r = buildDemo(o.dir);
      process.stdout.write(`Demo PKI written to ${r.dir}\nFlawed on purpose: ${r.flawed}\n\n`);
      process.stdout.write(renderInspect(inspectPaths([r.dir])));
    });
}
