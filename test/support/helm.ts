// The helm CLI that test/helm/build.sh builds once from its Go module (helm.sh/helm/v3, pinned in
// test/helm/go.mod; Debian has no helm package) into ~/.cache/anchorage. Asked for in a beforeAll, like the
// Kubernetes binaries (test/support/k8s.ts): a warm cache answers in well under a second.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/** A cold build took 35.5 min on a 2-core machine at load ~20 (beside the Kubernetes build); a cache hit is instant. */
export const HELM_BUILD_TIMEOUT_MS = 60 * 60_000;

const BUILD_SH = join(import.meta.dirname, '..', 'helm', 'build.sh');

let pending: Promise<string> | undefined;

/** The path of the helm binary, built on the first call (in this process), then a cache hit. */
export function helmBin(): Promise<string> {
  pending ??= new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [BUILD_SH], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`test/helm/build.sh failed (exit ${code ?? signal}); its output is above`));
      const bin = out.trim().split('\n').at(-1) ?? '';
      try {
        accessSync(bin, constants.X_OK);
      } catch (e) {
        return reject(new Error(`test/helm/build.sh printed '${bin}', which is not executable: ${(e as Error).message}`));
      }
      resolve(bin);
    });
  }).catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}
