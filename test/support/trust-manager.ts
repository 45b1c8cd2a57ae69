// trust-manager (cert-manager/trust-manager), the peer the bundles controller is measured and checked against:
// built once from its Go module into ~/.cache/anchorage/trust-manager-<version>/ (under a lock, with the module
// and build caches test/k8s/build.sh uses); its CRDs come from the same module's deploy/crds.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const TRUST_MANAGER_VERSION = 'v0.25.0';
const MODULE = 'github.com/cert-manager/trust-manager';
const CACHE = join(homedir(), '.cache', 'anchorage');
const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';

/** A cold build takes a few minutes on an idle machine; a loaded one is much slower. */
export const TRUST_MANAGER_BUILD_TIMEOUT_MS = 30 * 60_000;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    p.once('error', reject);
    p.once('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${err.slice(-2000)}`)),
    );
  });
}

let pending: Promise<{ bin: string; crds: string }> | undefined;

/** The trust-manager binary and the folder of its CRDs, built on first use. */
export function trustManager(): Promise<{ bin: string; crds: string }> {
  pending ??= (async () => {
    const dir = join(CACHE, `trust-manager-${TRUST_MANAGER_VERSION}`);
    mkdirSync(join(dir, 'bin'), { recursive: true });
    const env = {
      GOMODCACHE: join(CACHE, 'gomod'),
      GOCACHE: join(CACHE, 'gocache'),
      GOFLAGS: '-modcacherw',
      GOBIN: join(dir, 'bin'),
      GOTOOLCHAIN: 'local',
    };
    const bin = join(dir, 'bin', 'trust-manager');
    // flock: several test files or a bench asking at once wait for one build.
    if (!existsSync(bin))
      await run('flock', [join(dir, 'lock'), GO, 'install', `${MODULE}/cmd/trust-manager@${TRUST_MANAGER_VERSION}`], env);
    const mod = JSON.parse(await run(GO, ['mod', 'download', '-json', `${MODULE}@${TRUST_MANAGER_VERSION}`], env)) as { Dir: string };
    return { bin, crds: join(mod.Dir, 'deploy', 'crds') };
  })().catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}
