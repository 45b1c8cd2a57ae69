// `anchorage demo` (and `npm start`): a small cluster PKI made by `pki init` (a control-plane node and a
// worker) with faults planted on purpose, plus a few loose files, then what `anchorage scan` says about it.
// Without --dir it lives in a temp folder that is removed before the command returns.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { InputError } from '../../common/errors.ts';
import { writeKubeconfig } from '../../k8s/kubeconfig.ts';
import { parseClusterConfig } from '../../pki/config.ts';
import { initPki } from '../../pki/service.ts';
import { scan } from '../../scan/scan.ts';
import { issueCertificate } from '../../x509/build.ts';
import { Certificate } from '../../x509/certificate.ts';
import { generateKey } from '../../x509/keys.ts';
import { scanPem } from '../../x509/pem.ts';
import { collectInputs } from '../files.ts';
import { type Output, writeOutputs } from '../outputs.ts';
import { renderScan } from '../scan-view.ts';

export interface DemoPki {
  /** File names (relative to the demo folder) and contents. */
  files: Output[];
  flawed: string;
}

/** The demo PKI's files, in memory. */
export function buildDemo(now = new Date()): DemoPki {
  const key = (k: { privateKey: { export(o: object): string | Buffer } }): string =>
    k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const files: Output[] = [];
  const write = (name: string, data: string, mode = 0o644): void => {
    files.push({ path: name, data, secret: mode === 0o600 });
  };

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
  return {
    files,
    flawed: 'kubelet-client-worker-1.pem: expired 7 days ago, subject lacks O=system:nodes, keyEncipherment on an ECDSA key',
  };
}

/** Write the demo into `dir` (created when missing); existing files are replaced only with `force`. */
export function writeDemo(dir: string, pki: DemoPki, force = false): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      `--dir ${dir}: cannot create the folder (${code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : code})`,
    );
  }
  if (!statSync(dir).isDirectory()) throw new InputError(`--dir ${dir}: not a folder`);
  writeOutputs(
    pki.files.map((f) => ({ ...f, path: join(dir, f.path) })),
    { force },
  );
}

const DEMO_CLUSTER = `apiVersion: anchorage.dev/v1alpha1
kind: ClusterPKI
clusterName: demo
controlPlaneEndpoint: demo.example.com:6443
layout: kubeadm
keyAlgorithm: ecdsa-p256
controlPlane:
  - { name: cp-1, ips: [10.0.0.11] }
workers:
  - { name: worker-1, ips: [10.0.1.1] }
`;

/** The faults planted in the demo cluster, in the words a newcomer needs. */
export const DEMO_FAULTS = [
  "cluster/nodes/worker-1/etc/kubernetes/pki/ca.key: the cluster CA's private key copied onto a worker",
  "cluster/nodes/cp-1/etc/kubernetes/admin.conf: trusts a rogue CA that carries the cluster CA's name",
  'cluster/nodes/worker-1/var/lib/kubelet/pki/kubelet.crt: the kubelet serving certificate expired 3 days ago',
];

/** `pki init` a two-node cluster under `<dir>/cluster` and plant the faults DEMO_FAULTS names. */
export async function buildDemoCluster(dir: string, now = new Date()): Promise<void> {
  const out = join(dir, 'cluster');
  const day = 86_400_000;
  // Made a month ago, so that a certificate can have run out since without predating its CA.
  const made = new Date(now.getTime() - 30 * day);
  await initPki({
    config: parseClusterConfig(DEMO_CLUSTER, 'demo'),
    configText: DEMO_CLUSTER,
    configDir: dir,
    out,
    now: made,
    force: true,
  });
  const node = (n: string, p: string): string => join(out, 'nodes', n, p);
  // 1. The CA key on a worker.
  writeOutputs(
    [{ path: node('worker-1', 'etc/kubernetes/pki/ca.key'), data: readFileSync(node('cp-1', 'etc/kubernetes/pki/ca.key')), secret: true }],
    { force: true },
  );
  // 2. A rogue CA with the cluster CA's name, trusted by the control plane's admin.conf.
  const kp = generateKey('ecdsa-p256');
  const rogue = issueCertificate({
    profile: { subject: 'CN=kubernetes', ca: true, keyUsage: ['digitalSignature', 'keyCertSign'], validity: { days: 3650 } },
    publicKey: kp.publicKey,
    signingKey: kp.privateKey,
    now,
  });
  // 3. worker-1's kubelet serving certificate reissued by the cluster CA with a validity that ended 3 days ago.
  const caPem = readFileSync(node('cp-1', 'etc/kubernetes/pki/ca.crt'), 'latin1');
  const ca = new Certificate((scanPem(caPem)[0] as { der: Uint8Array }).der);
  const caKey = createPrivateKey(readFileSync(node('cp-1', 'etc/kubernetes/pki/ca.key')));
  const kubeletKey = createPrivateKey(readFileSync(node('worker-1', 'var/lib/kubelet/pki/kubelet.key')));
  const old = new Certificate(
    (scanPem(readFileSync(node('worker-1', 'var/lib/kubelet/pki/kubelet.crt'), 'latin1'))[0] as { der: Uint8Array }).der,
  );
  const expired = issueCertificate({
    profile: {
      subject: old.subjectRdns,
      sans: { dns: old.sans.dns, ip: old.sans.ip },
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['serverAuth'],
      validity: { notBefore: made, notAfter: new Date(now.getTime() - 3 * day) },
    },
    publicKey: createPublicKey(kubeletKey),
    issuer: { cert: ca, key: caKey },
    now: made,
  });
  writeOutputs([{ path: node('worker-1', 'var/lib/kubelet/pki/kubelet.crt'), data: expired.toPem() }], { force: true });
  const admin = node('cp-1', 'etc/kubernetes/admin.conf');
  const kc = parse(readFileSync(admin, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
  for (const c of kc.clusters) c.cluster['certificate-authority-data'] = Buffer.from(rogue.toPem()).toString('base64');
  writeOutputs([{ path: admin, data: stringify(kc), secret: true }], { force: true });
}

function nextSteps(dir: string | undefined): string {
  if (dir === undefined)
    return [
      'That folder is gone already. To keep the files and try the other commands:',
      '  anchorage demo --dir anchorage-demo',
      '  anchorage lint anchorage-demo',
      '',
    ].join('\n');
  const q = (p: string): string => (/^[\w./@:-]+$/.test(p) ? p : `'${p.replaceAll("'", "'\\''")}'`);
  const d = (f: string): string => q(join(dir, f));
  return [
    'Next, try:',
    `  anchorage scan ${d('cluster')} -v`,
    `  anchorage scan ${d('cluster')} -o html > scan.html`,
    `  anchorage lint ${q(dir)}`,
    `  anchorage verify ${d('apiserver.crt')} --roots ${d('ca.crt')} --purpose server --host kubernetes.default.svc`,
    `  anchorage cert issue --ca ${d('ca.crt')} --ca-key ${d('ca.key')} --subject CN=my-service --san DNS:my-service --out my-service.crt`,
    '',
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('build a throw-away cluster PKI (pki init: a control-plane node and a worker) with faults planted on purpose, and scan it')
    .option('--dir <dir>', 'write the files into this folder (created when missing) and keep them')
    .option('--force', 'replace existing files in --dir')
    .action(async (o: { dir?: string; force?: boolean }) => {
      const pki = buildDemo();
      const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'anchorage-demo-'));
      try {
        writeDemo(dir, pki, o.force === true);
        await buildDemoCluster(dir);
        process.stdout.write(
          o.dir === undefined
            ? `Demo cluster PKI written to a temporary folder ${dir} (removed when this command ends)\n`
            : `Demo cluster PKI written to ${dir}\n`,
        );
        process.stdout.write(`Planted on purpose:\n${DEMO_FAULTS.map((f) => `  - ${f}`).join('\n')}\n\n`);
        process.stdout.write(`$ anchorage scan ${join(o.dir ?? dir, 'cluster')}\n\n`);
        const { files, errors } = collectInputs([join(dir, 'cluster')]);
        const report = scan(
          files.map((f) => ({ source: f.path, data: f.data })),
          { now: new Date(), failures: errors.map((e) => ({ source: e.path, reason: e.error })) },
        );
        process.stdout.write(renderScan(report));
        process.stdout.write('\n');
      } finally {
        if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
      }
      process.stdout.write(nextSteps(o.dir));
    });
}
