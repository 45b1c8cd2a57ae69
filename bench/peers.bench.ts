// Anchorage beside Go's crypto/x509 (bench/go: the library every Kubernetes component parses with), in
// the same run, on a mixed corpus: RSA-2048/3072/4096, ECDSA P-256/P-384 and Ed25519 keys, signed by
// RSA, ECDSA and Ed25519 CAs, 4-50 SANs, long distinguished names, AIA, CRL distribution points and
// policies on some. Each figure is the median of repeated runs, with its spread.
//   parse:     in one process, every field a person sees (what `inspect` shows), public key included
//   inventory: `anchorage inspect <dir>` against the Go walker printing the same fields, whole processes: over the
//              corpus's N files, and over a tree of BENCH_PEERS_TREE_FILES (default 100,000; 0: none) files of the same
//              corpus, made once a month into ~/.cache/anchorage, where start-up no longer decides
//   issue:     leaves with a fresh key each (ECDSA P-256, RSA-2048), signed by an ECDSA P-256 CA, one core
//   verify:    depth-3 chains; cold = every chain read from its files, parsed and verified with fresh pools
//              (and a fresh signature cache: two signature checks per chain, as Go does); warm = the parsed
//              certificates and one pool reused (Go checks both signatures again; Anchorage's signature cache
//              answers: that is what its monitor does, and the row says so). Anchorage keeps the KeyObjects it
//              imports from SPKI bytes in a process-wide cache (src/x509/keys.ts): the cold row reuses the
//              root's and intermediate's keys across chains that way; the "fresh keys" row empties that cache
//              before each chain, so every chain imports its issuer keys as Go's parser parses every key
// BENCH_PEERS_ROWS picks the rows (comma-separated: parse, issue (ECDSA P-256), issue-rsa, verify, inventory;
// default all), e.g. BENCH_PEERS_ROWS=issue,verify for the issuance and verification loops alone.
// Each in-process figure is given twice: in wall time, and in CPU time (user + system, every thread, from
// getrusage on both sides), which a machine shared with other work disturbs much less.
import { execFileSync } from 'node:child_process';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustIndex } from '../src/trust/pool.ts';
import { SignatureCache } from '../src/trust/sigcache.ts';
import { verifyChain } from '../src/trust/verify.ts';
import { issueCertificate } from '../src/x509/build.ts';
import { Certificate } from '../src/x509/certificate.ts';
import { parse } from '../src/x509/der.ts';
import { forgetImportedPublicKeys, generateKey, KEY_TYPES, type KeyPair, type KeyType } from '../src/x509/keys.ts';
import { scanPem } from '../src/x509/pem.ts';
import { AT, chain3 } from '../test/support/trust-fixtures.ts';
import { type BenchResult, type Stats, spreadText, stats, timeProcesses } from './harness.ts';

const root = join(import.meta.dirname, '..');
const N = Number(process.env.BENCH_PEERS_CERTS ?? 3000);
const ROUNDS = Number(process.env.BENCH_PEERS_ROUNDS ?? 9);
const ISSUE_ROUNDS = Number(process.env.BENCH_PEERS_ISSUE_ROUNDS ?? 7);
const VERIFY_ROUNDS = Number(process.env.BENCH_PEERS_VERIFY_ROUNDS ?? 7);
const VERIFY_CHAINS = 1000;
/** Files of the large inventory tree (the goal is stated at 100,000 and 1,000,000); 0 leaves that row out. */
const TREE_FILES = Number(process.env.BENCH_PEERS_TREE_FILES ?? 100_000);
// The Go peer runs each issue and verify round twice in its process and times the second; our side does the
// same (an untimed round right before each timed one) unless BENCH_PEERS_OUR_WARMUP=0 (before 2026-12-02 it
// did not: each of our timed rounds followed the Go process's run on a cold cache).
const OUR_WARMUP = process.env.BENCH_PEERS_OUR_WARMUP !== '0';
const ROW_NAMES = ['parse', 'issue', 'issue-rsa', 'verify', 'inventory'] as const;
const ROWS = new Set(
  (process.env.BENCH_PEERS_ROWS ?? ROW_NAMES.join(','))
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== ''),
);
for (const r of ROWS)
  if (!(ROW_NAMES as readonly string[]).includes(r))
    throw new Error(`BENCH_PEERS_ROWS: unknown row '${r}' (expected ${ROW_NAMES.join(', ')})`);

/** The mixed corpus, DER, deterministic in shape (keys and serials are random). */
export function corpus(n: number): Uint8Array[] {
  const keys = new Map<KeyType, KeyPair>(KEY_TYPES.map((t) => [t, generateKey(t)]));
  const key = (t: KeyType): KeyPair => keys.get(t) as KeyPair;
  const cas = (['ecdsa-p256', 'rsa-2048', 'ecdsa-p384', 'ed25519'] as const).map((t) => {
    const kp = key(t);
    const cert = issueCertificate({
      profile: {
        subject: `C=DE,ST=Berlin,L=Berlin,O=Anchorage Benchmark Certificate Authority ${t},OU=Platform Engineering,CN=Anchorage bench intermediate CA ${t}`,
        ca: true,
        keyUsage: ['keyCertSign', 'cRLSign'],
        validity: { days: 3650 },
      },
      publicKey: kp.publicKey,
      signingKey: kp.privateKey,
    });
    return { cert, key: kp.privateKey };
  });
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const t = KEY_TYPES[i % KEY_TYPES.length] as KeyType;
    const sans = 4 + ((i * 7) % 47); // 4..50
    const dns = Array.from({ length: sans - 1 }, (_, j) => `svc-${j}.namespace-${i % 97}.svc.cluster.local`);
    const rich = i % 3 === 0;
    out.push(
      issueCertificate({
        profile: {
          subject:
            i % 2
              ? `O=system:nodes,CN=system:node:worker-${i}`
              : `C=US,ST=California,L=San Francisco,O=Example Platform Infrastructure Incorporated,OU=Kubernetes Control Plane Services,CN=kube-apiserver-${i}.control-plane.us-west-2.compute.internal`,
          sans: { dns, ip: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`] },
          keyUsage: ['digitalSignature', ...(t.startsWith('rsa') ? (['keyEncipherment'] as const) : [])],
          extKeyUsage: ['serverAuth', 'clientAuth'],
          validity: { days: 365 },
          ...(rich
            ? {
                authorityInfoAccess: { ocsp: ['http://ocsp.example.com'], caIssuers: ['http://pki.example.com/ca.crt'] },
                crlDistributionPoints: ['http://pki.example.com/ca.crl'],
                policies: ['2.23.140.1.2.2'],
              }
            : {}),
        },
        publicKey: key(t).publicKey,
        issuer: cas[i % cas.length] as { cert: Certificate; key: KeyPair['privateKey'] },
      }).der,
    );
  }
  return out;
}

/**
 * The corpus as a tree of `n` PEM files, 1,000 a folder, made once a month: `<cache>/bench-peers-tree-v1-<month>-<n>/`
 * (written beside it and renamed into place, so a stopped run leaves no half tree that looks done).
 */
function cachedTree(n: number): string {
  const month = new Date().toISOString().slice(0, 7);
  const dir = join(process.env.ANCHORAGE_CACHE ?? join(homedir(), '.cache', 'anchorage'), `bench-peers-tree-v1-${month}-${n}`);
  if (existsSync(`${dir}.done`)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const [i, d] of corpus(n).entries()) {
    const sub = join(tmp, `d${String(Math.floor(i / 1000)).padStart(4, '0')}`);
    if (i % 1000 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `cert-${String(i).padStart(7, '0')}.crt`), new Certificate(d).toPem());
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(`${dir}.done`, '');
  return dir;
}

/** CPU time (user + system, every thread) this process has used, in ms: what a round cost on a core,
 * whatever else the machine ran (wall time on a shared machine also counts the wait for a core). */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** A Go peer's round line: "wall cpu" nanoseconds (or "cold warm coldCpu warmCpu"), as ms. */
const goMsOf = (line: string | undefined): number[] =>
  (line ?? '')
    .trim()
    .split(' ')
    .map((x) => Number(x) / 1e6);

const perSecond = (st: Stats, ops: number): { value: number; spread: string } => {
  // Rates from round times: the median round is the median rate; the quartiles swap ends.
  const rate = (ms: number): number => ops / (ms / 1000);
  return {
    value: rate(st.median),
    spread: `p25-p75 ${Math.round(rate(st.p75)).toLocaleString('en-US')}-${Math.round(rate(st.p25)).toLocaleString('en-US')}, ${st.runs} rounds`,
  };
};

export async function run(): Promise<BenchResult[]> {
  const peer = execFileSync('bash', [join(root, 'bench/go/build.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop() as string;
  const tmp = mkdtempSync(join(tmpdir(), 'anchorage-bench-peers-'));
  try {
    const ders = ROWS.has('parse') || ROWS.has('inventory') ? corpus(N) : [];
    const corpusFile = join(tmp, 'corpus.bin');
    const parts: Uint8Array[] = [];
    for (const d of ders) {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, d.length);
      parts.push(len, d);
    }
    writeFileSync(corpusFile, Buffer.concat(parts));
    const tree = join(tmp, 'tree');
    for (const [i, d] of ders.entries()) {
      const sub = join(tree, `ns-${String(i % 30).padStart(2, '0')}`);
      if (i < 30) mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, `cert-${String(i).padStart(5, '0')}.crt`), new Certificate(d).toPem());
    }

    // Parse, interleaved: one Go round (in a process that ran one warm-up round first), one of ours.
    const goMs: number[] = [];
    const ourMs: number[] = [];
    const goCpu: number[] = [];
    const ourCpu: number[] = [];
    const now = new Date();
    let sink = 1;
    for (const d of ders) sink += JSON.stringify(new Certificate(d).toJSON(now)).length; // warm-up
    for (let r = 0; r < (ROWS.has('parse') ? ROUNDS : 0); r++) {
      const lines = execFileSync(peer, ['parse', corpusFile, '2'], { encoding: 'utf8' }).trim().split('\n');
      const [gw, gc] = goMsOf(lines[1]) as [number, number];
      goMs.push(gw);
      goCpu.push(gc);
      const c0 = cpuMs();
      const t0 = process.hrtime.bigint();
      for (const d of ders) {
        const j = new Certificate(d).toJSON(now);
        sink += j.subject.length + j.publicKey.algorithm.length + j.fingerprints.sha256.length;
      }
      ourMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      ourCpu.push(cpuMs() - c0);
    }
    const cpuRows: BenchResult[] = [];
    const parseRows: BenchResult[] = [];
    if (ROWS.has('parse')) {
      if (sink <= 1) throw new Error('nothing parsed');
      parseRows.push({
        name: `parse ${ders.length} mixed certificates, every field inspect shows (key included), one core`,
        unit: 'certs/s',
        ...perSecond(stats(ourMs), ders.length),
        baseline: { name: 'Go crypto/x509 ParseCertificate + the same fields', ...perSecond(stats(goMs), ders.length) },
      });
      cpuRows.push({
        name: `parse ${ders.length} mixed certificates, every field, key included: CPU time (user + system, all threads)`,
        unit: 'certs per CPU-second',
        ...perSecond(stats(ourCpu), ders.length),
        baseline: { name: 'Go, CPU time of the same rounds', ...perSecond(stats(goCpu), ders.length) },
      });
    }

    // Issue: rounds interleaved, one Go round (its process ran one warm-up round first), one of ours.
    const caKp = generateKey('ecdsa-p256');
    const ca = issueCertificate({
      profile: { subject: 'CN=bench-ca', ca: true, keyUsage: ['keyCertSign'], validity: { days: 30 } },
      publicKey: caKp.publicKey,
      signingKey: caKp.privateKey,
    });
    const issueRows: BenchResult[] = [];
    for (const [kt, n] of (
      [
        ['ecdsa-p256', 500, 'issue'],
        ['rsa-2048', 8, 'issue-rsa'],
      ] as const
    )
      .filter(([, , row]) => ROWS.has(row))
      .map(([kt, n]) => [kt, n] as const)) {
      const goIssue: number[] = [];
      const ourIssue: number[] = [];
      const goIssueCpu: number[] = [];
      const ourIssueCpu: number[] = [];
      for (let r = 0; r < ISSUE_ROUNDS; r++) {
        const lines = execFileSync(peer, ['issue', kt, String(n), '2'], { encoding: 'utf8' })
          .trim()
          .split('\n');
        const [gw, gc] = goMsOf(lines[1]) as [number, number];
        goIssue.push(gw);
        goIssueCpu.push(gc);
        const issueRound = (): void => {
          for (let i = 0; i < n; i++) {
            const kp = generateKey(kt);
            sink += issueCertificate({
              profile: {
                subject: `CN=leaf-${i}`,
                sans: { dns: [`leaf-${i}.example`] },
                keyUsage: ['digitalSignature'],
                extKeyUsage: ['serverAuth'],
                validity: { days: 30 },
              },
              publicKey: kp.publicKey,
              issuer: { cert: ca, key: caKp.privateKey },
            }).der.length;
          }
        };
        if (OUR_WARMUP) issueRound(); // untimed, as the Go process's first round
        const c0 = cpuMs();
        const t0 = process.hrtime.bigint();
        issueRound();
        ourIssue.push(Number(process.hrtime.bigint() - t0) / 1e6);
        ourIssueCpu.push(cpuMs() - c0);
      }
      issueRows.push({
        name: `issue ${kt} leaves, key generation included, one core`,
        unit: 'leaves/s',
        ...perSecond(stats(ourIssue), n),
        baseline: { name: 'Go crypto/x509 CreateCertificate + key generation', ...perSecond(stats(goIssue), n) },
      });
      cpuRows.push({
        name: `issue ${kt} leaves, key generation included: CPU time (user + system, all threads)`,
        unit: 'leaves per CPU-second',
        ...perSecond(stats(ourIssueCpu), n),
        baseline: { name: 'Go, CPU time of the same rounds', ...perSecond(stats(goIssueCpu), n) },
      });
    }

    // Verify: depth-3 chains (ECDSA P-256) from files, cold and warm, rounds interleaved with Go's.
    const verifyRows: BenchResult[] = [];
    if (ROWS.has('verify')) {
      const chains = join(tmp, 'chains');
      mkdirSync(chains);
      const { root: vRoot, int: vInt, leaves: vLeaves } = chain3(VERIFY_CHAINS);
      writeFileSync(join(chains, 'root.pem'), vRoot.cert.toPem());
      writeFileSync(join(chains, 'int.pem'), vInt.cert.toPem());
      const leafFiles = vLeaves.map((l, i) => {
        const f = join(chains, `leaf-${String(i).padStart(5, '0')}.pem`);
        writeFileSync(f, l.cert.toPem());
        return f;
      });
      const readPemCert = (f: string): Certificate => new Certificate((scanPem(readFileSync(f, 'latin1'))[0] as { der: Uint8Array }).der);
      const at = String(Math.floor(AT.getTime() / 1000));
      const goCold: number[] = [];
      const goWarm: number[] = [];
      const ourCold: number[] = [];
      const ourFresh: number[] = [];
      const ourWarm: number[] = [];
      const ourFloor: number[] = [];
      const goColdCpu: number[] = [];
      const goWarmCpu: number[] = [];
      const ourColdCpu: number[] = [];
      const ourFreshCpu: number[] = [];
      const ourWarmCpu: number[] = [];
      const index = new TrustIndex([vRoot.cert], [vInt.cert]);
      const sigCache = new SignatureCache();
      const parsedLeaves = vLeaves.map((l) => l.cert);
      for (const leaf of parsedLeaves) verifyChain({ leaf, index, sigCache, at: AT, purpose: 'server' }); // warm-up
      // The floor under the fresh-keys row: what any Node verifier must do per chain with Node's OpenSSL (the three
      // files read, the two issuer keys imported as PEM, the two signatures checked), without parsing a certificate,
      // building a path or checking anything else: the signed bytes and signatures are taken out beforehand.
      const signedParts = (c: Certificate): { tbs: Uint8Array; sig: Uint8Array } => {
        const top = parse(c.der);
        return { tbs: top.child(0).raw, sig: c.signature };
      };
      const spkiPem = (c: Certificate): string =>
        `-----BEGIN PUBLIC KEY-----\n${Buffer.from(c.spki).toString('base64')}\n-----END PUBLIC KEY-----\n`;
      const [rootPem, intPem] = [spkiPem(vRoot.cert), spkiPem(vInt.cert)];
      const intSigned = signedParts(vInt.cert);
      const leafSigned = parsedLeaves.map(signedParts);
      const floorRound = (): number => {
        let ok = 0;
        for (let i = 0; i < leafFiles.length; i++) {
          readFileSync(join(chains, 'root.pem'), 'latin1');
          readFileSync(join(chains, 'int.pem'), 'latin1');
          readFileSync(leafFiles[i] as string, 'latin1');
          const l = leafSigned[i] as { tbs: Uint8Array; sig: Uint8Array };
          if (
            cryptoVerify('sha256', l.tbs, createPublicKey(intPem), l.sig) &&
            cryptoVerify('sha256', intSigned.tbs, createPublicKey(rootPem), intSigned.sig)
          )
            ok++;
        }
        return ok;
      };
      for (let r = 0; r < VERIFY_ROUNDS; r++) {
        const lines = execFileSync(peer, ['verify', chains, at, '2'], { encoding: 'utf8' }).trim().split('\n');
        const [c, w, cc, wc] = goMsOf(lines[1]) as [number, number, number, number];
        goCold.push(c);
        goWarm.push(w);
        goColdCpu.push(cc);
        goWarmCpu.push(wc);
        const coldRound = (freshKeys = false): number => {
          let ok = 0;
          for (const f of leafFiles) {
            if (freshKeys) forgetImportedPublicKeys();
            const idx = new TrustIndex([readPemCert(join(chains, 'root.pem'))], [readPemCert(join(chains, 'int.pem'))]);
            const v = verifyChain({ leaf: readPemCert(f), index: idx, sigCache: new SignatureCache(), at: AT, purpose: 'server' });
            if (v.trusted) ok++;
          }
          return ok;
        };
        if (OUR_WARMUP) coldRound(); // untimed, as the Go process's first round
        let c0 = cpuMs();
        let t0 = process.hrtime.bigint();
        let ok = coldRound();
        ourCold.push(Number(process.hrtime.bigint() - t0) / 1e6);
        ourColdCpu.push(cpuMs() - c0);
        if (ok !== leafFiles.length) throw new Error(`only ${ok} of ${leafFiles.length} chains verified`);
        if (OUR_WARMUP) coldRound(true);
        c0 = cpuMs();
        t0 = process.hrtime.bigint();
        ok = coldRound(true);
        ourFresh.push(Number(process.hrtime.bigint() - t0) / 1e6);
        ourFreshCpu.push(cpuMs() - c0);
        if (ok !== leafFiles.length) throw new Error(`only ${ok} of ${leafFiles.length} chains verified`);
        floorRound();
        t0 = process.hrtime.bigint();
        ok = floorRound();
        ourFloor.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (ok !== leafFiles.length) throw new Error(`only ${ok} of ${leafFiles.length} chains checked at the floor`);
        c0 = cpuMs();
        t0 = process.hrtime.bigint();
        for (const leaf of parsedLeaves) if (verifyChain({ leaf, index, sigCache, at: AT, purpose: 'server' }).trusted) ok++;
        ourWarm.push(Number(process.hrtime.bigint() - t0) / 1e6);
        ourWarmCpu.push(cpuMs() - c0);
      }
      verifyRows.push(
        {
          name: `verify ${VERIFY_CHAINS} depth-3 chains (ECDSA P-256), cold: files read and parsed, fresh pools and signature cache per chain (imported issuer keys reused across chains)`,
          unit: 'chains/s',
          ...perSecond(stats(ourCold), VERIFY_CHAINS),
          baseline: { name: 'Go Certificate.Verify, fresh CertPools per chain', ...perSecond(stats(goCold), VERIFY_CHAINS) },
        },
        {
          name: `verify the same chains cold with fresh keys: as above, and every chain imports its issuer keys (key cache emptied per chain)`,
          unit: 'chains/s',
          ...perSecond(stats(ourFresh), VERIFY_CHAINS),
          baseline: {
            name: 'Go Certificate.Verify, fresh CertPools per chain (the same Go rounds)',
            ...perSecond(stats(goCold), VERIFY_CHAINS),
          },
        },
        {
          name: `the floor under the fresh-keys row with Node's OpenSSL: per chain three file reads, two PEM key imports and two signature checks, nothing parsed or built`,
          unit: 'chains/s',
          ...perSecond(stats(ourFloor), VERIFY_CHAINS),
          baseline: {
            name: 'Go Certificate.Verify, fresh CertPools per chain (the same Go rounds; it parses and builds the path too)',
            ...perSecond(stats(goCold), VERIFY_CHAINS),
          },
        },
        {
          name: `verify the same chains warm: parsed certificates and one pool reused (Anchorage: signature cache hits)`,
          unit: 'chains/s',
          ...perSecond(stats(ourWarm), VERIFY_CHAINS),
          baseline: { name: 'Go Certificate.Verify, pools reused (re-checks both signatures)', ...perSecond(stats(goWarm), VERIFY_CHAINS) },
        },
      );
      cpuRows.push(
        {
          name: `verify ${VERIFY_CHAINS} chains cold: CPU time (user + system, all threads)`,
          unit: 'chains per CPU-second',
          ...perSecond(stats(ourColdCpu), VERIFY_CHAINS),
          baseline: { name: 'Go, CPU time of the same rounds', ...perSecond(stats(goColdCpu), VERIFY_CHAINS) },
        },
        {
          name: `verify ${VERIFY_CHAINS} chains cold with fresh keys: CPU time (user + system, all threads)`,
          unit: 'chains per CPU-second',
          ...perSecond(stats(ourFreshCpu), VERIFY_CHAINS),
          baseline: { name: 'Go, CPU time of the same rounds', ...perSecond(stats(goColdCpu), VERIFY_CHAINS) },
        },
        {
          name: `verify the same chains warm: CPU time (Anchorage: signature cache hits)`,
          unit: 'chains per CPU-second',
          ...perSecond(stats(ourWarmCpu), VERIFY_CHAINS),
          baseline: { name: 'Go, CPU time of the same rounds', ...perSecond(stats(goWarmCpu), VERIFY_CHAINS) },
        },
      );
    }

    // Directory inventory: whole processes over the same tree, output discarded.
    const inventoryRows: BenchResult[] = [];
    if (ROWS.has('inventory')) {
      const trees: { dir: string; files: number; runs: number }[] = [
        { dir: tree, files: ders.length, runs: Number(process.env.BENCH_PEERS_RUNS ?? 5) },
      ];
      if (TREE_FILES > 0)
        trees.push({ dir: cachedTree(TREE_FILES), files: TREE_FILES, runs: Number(process.env.BENCH_PEERS_TREE_RUNS ?? 3) });
      for (const t of trees) {
        const procs = [
          { label: 'go', cmd: peer, args: ['inventory', t.dir] },
          { label: 'anchorage', cmd: process.execPath, args: [join(root, 'bin', 'anchorage.js'), 'inspect', t.dir] },
          // lint does the catalog and the set's lookups on top (two or three walks): beside the same walker, which
          // lints nothing, for its time and memory over a directory (#12's goal names both commands).
          { label: 'lint', cmd: process.execPath, args: [join(root, 'bin', 'anchorage.js'), 'lint', t.dir], ok: [0, 1] },
        ];
        const st = timeProcesses(procs, t.runs, { rss: true, cpu: true });
        const get = (k: string): Stats => st.get(k) as Stats;
        const mib = (k: string): string => (st.has(k) ? `, peak RSS median ${get(k).median.toFixed(0)} MiB` : '');
        const files = t.files.toLocaleString('en-US');
        inventoryRows.push(
          {
            name: `inspect a directory of ${files} mixed PEM files (whole process, output discarded)`,
            unit: 'ms',
            value: get('anchorage').median,
            spread: `${spreadText(get('anchorage'), 'ms')}${mib('anchorage rss')}`,
            baseline: {
              name: 'Go walker printing the same fields',
              value: get('go').median,
              spread: `${spreadText(get('go'), 'ms')}${mib('go rss')}`,
            },
            lowerIsBetter: true,
          },
          {
            name: `lint a directory of ${files} mixed PEM files, table (whole process, output discarded)`,
            unit: 'ms',
            value: get('lint').median,
            spread: `${spreadText(get('lint'), 'ms')}${mib('lint rss')}`,
            baseline: {
              name: 'Go walker printing the fields (no lints)',
              value: get('go').median,
              spread: `${spreadText(get('go'), 'ms')}${mib('go rss')}`,
            },
            lowerIsBetter: true,
          },
          {
            name: `inspect a directory of ${files} mixed PEM files: CPU time (user + system, every thread)`,
            unit: 'ms',
            value: get('anchorage cpu').median,
            spread: spreadText(get('anchorage cpu'), 'ms'),
            baseline: { name: 'the Go walker, CPU time', value: get('go cpu').median, spread: spreadText(get('go cpu'), 'ms') },
            lowerIsBetter: true,
          },
        );
      }
    }
    if (sink === 0) throw new Error('nothing done');
    return [...issueRows, ...verifyRows, ...parseRows, ...inventoryRows, ...cpuRows];
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
