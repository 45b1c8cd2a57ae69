// `anchorage demo`: a small PKI, one certificate flawed on purpose, then what `inspect` says about it.
// Without --dir it lives in a temp folder that is removed before the command returns.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { writeKubeconfig } from '../../k8s/kubeconfig.ts';
import { issueCertificate } from '../../x509/build.ts';
import { generateKey } from '../../x509/keys.ts';
import { inspectPaths, renderInspect } from '../inspect-view.ts';
import { type Output, writeOutputs } from '../outputs.ts';

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
    `  anchorage lint ${q(dir)}`,
    `  anchorage verify ${d('apiserver.crt')} --roots ${d('ca.crt')} --purpose server --host kubernetes.default.svc`,
    `  anchorage cert issue --ca ${d('ca.crt')} --ca-key ${d('ca.key')} --subject CN=my-service --san DNS:my-service --out my-service.crt`,
    '',
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('create a throw-away CA and a few certificates (one flawed on purpose) in a temp folder and inspect them')
    .option('--dir <dir>', 'write the files into this folder (created when missing) and keep them')
    .option('--force', 'replace existing files in --dir')
    .action((o: { dir?: string; force?: boolean }) => {
      const pki = buildDemo();
      const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'anchorage-demo-'));
      try {
        writeDemo(dir, pki, o.force === true);
        process.stdout.write(
          o.dir === undefined
            ? `Demo PKI written to a temporary folder ${dir} (removed when this command ends)\n`
            : `Demo PKI written to ${dir}\n`,
        );
        process.stdout.write(`Flawed on purpose: ${pki.flawed}\n\n`);
        process.stdout.write(renderInspect(inspectPaths([dir])));
      } finally {
        if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
      }
      process.stdout.write(nextSteps(o.dir));
    });
}
