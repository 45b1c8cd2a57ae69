// The pinned upstream binaries (kubeadm, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
// etcd) that test/k8s/build.sh builds once into ~/.cache/anchorage. Only the tests that run them ask, in a
// beforeAll, so a run of any other test neither builds Go nor waits for it:
//
//   let bin = '';
//   beforeAll(async () => {
//     bin = await kubeBinDir();
//   }, K8S_BUILD_TIMEOUT_MS);
//
// A warm cache answers in well under a second. A cold one builds (about 6 minutes on 2 idle cores, longer on
// a loaded machine); test files asking at the same time wait on build.sh's lock for that one build.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/** The hook timeout for the one beforeAll that resolves the binaries: a cold build took 26.5 min on a 2-core machine shared by 8 agents. */
export const K8S_BUILD_TIMEOUT_MS = 45 * 60_000;

export const K8S_BINARIES = ['kubeadm', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'etcd'] as const;

const BUILD_SH = join(import.meta.dirname, '..', 'k8s', 'build.sh');

let pending: Promise<string> | undefined;

/** The folder holding every binary of K8S_BINARIES, built on the first call (in this process), then a cache hit. */
export function kubeBinDir(): Promise<string> {
  pending ??= build().catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}

function build(): Promise<string> {
  return new Promise((resolve, reject) => {
    // Progress goes to stderr (shown as it happens); the last stdout line is the folder.
    const child = spawn('bash', [BUILD_SH], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`test/k8s/build.sh failed (exit ${code ?? signal}); its output is above`));
      const dir = out.trim().split('\n').at(-1) ?? '';
      try {
        for (const name of K8S_BINARIES) accessSync(join(dir, name), constants.X_OK);
      } catch (e) {
        return reject(new Error(`test/k8s/build.sh printed '${dir}', which lacks a binary: ${(e as Error).message}`));
      }
      resolve(dir);
    });
  });
}
