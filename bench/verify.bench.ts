// Path validation throughput for depth-3 chains (leaf <- intermediate <- root), beside
// `openssl verify` over the same files in the same run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustIndex } from '../src/trust/pool.ts';
import { SignatureCache } from '../src/trust/sigcache.ts';
import { verifyChain } from '../src/trust/verify.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { scanPem } from '../src/x509/pem.ts';
import { AT, chain3 } from '../test/support/trust-fixtures.ts';
import { type BenchResult, bestRate } from './harness.ts';

const N = 1000;

export async function run(): Promise<BenchResult[]> {
  const { root, int, leaves } = chain3(N);
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-bench-verify-'));
  try {
    writeFileSync(join(dir, 'root.pem'), root.cert.toPem());
    writeFileSync(join(dir, 'int.pem'), int.cert.toPem());
    const files = leaves.map((l, i) => {
      const f = join(dir, `leaf-${i}.pem`);
      writeFileSync(f, l.cert.toPem());
      return f;
    });
    const at = String(Math.floor(AT.getTime() / 1000));
    const read = (f: string): Certificate => new Certificate((scanPem(readFileSync(f, 'latin1'))[0] as { der: Uint8Array }).der);

    // Cold: every round reads and parses the files and starts with an empty signature cache,
    // as one `anchorage verify` run over an inventory would.
    const cold = bestRate(() => {
      const index = new TrustIndex([read(join(dir, 'root.pem'))], [read(join(dir, 'int.pem'))]);
      const sigCache = new SignatureCache();
      let ok = 0;
      for (const f of files) if (verifyChain({ leaf: read(f), index, sigCache, at: AT, purpose: 'server' }).trusted) ok++;
      if (ok !== N) throw new Error(`only ${ok} of ${N} chains verified`);
      return N;
    }, 3);

    // Warm: the same certificates verified again (a monitor re-checking its inventory): no signature work.
    const index = new TrustIndex([root.cert], [int.cert]);
    const sigCache = new SignatureCache();
    const parsed = leaves.map((l) => l.cert);
    const warm = bestRate(() => {
      for (const leaf of parsed) verifyChain({ leaf, index, sigCache, at: AT, purpose: 'server' });
      return N;
    }, 3);

    // openssl: one process for all the leaves, so process start-up is spread over N chains.
    const openssl = bestRate(() => {
      const out = execFileSync(
        'openssl',
        [
          'verify',
          '-x509_strict',
          '-purpose',
          'sslserver',
          '-attime',
          at,
          '-CAfile',
          join(dir, 'root.pem'),
          '-untrusted',
          join(dir, 'int.pem'),
          ...files,
        ],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      );
      const ok = out.split('\n').filter((l) => l.endsWith(': OK')).length;
      if (ok !== N) throw new Error(`openssl verified only ${ok} of ${N} chains`);
      return N;
    }, 3);

    const baseline = { name: `openssl verify -x509_strict -purpose sslserver, ${N} leaves in one process`, value: openssl };
    return [
      { name: `verify depth-3 paths (ECDSA P-256), files read + parsed, cold signature cache`, unit: 'paths/s', value: cold, baseline },
      { name: 'verify depth-3 paths, warm signature cache (re-checking an inventory)', unit: 'paths/s', value: warm, baseline },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
