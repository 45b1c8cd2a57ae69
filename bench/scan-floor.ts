// The floor under `anchorage scan --kubeconfig` (bench/scan.bench.ts runs it as a whole process beside the scan):
// the least of the scan's own work any scan that meets issue #13 must do, and nothing more. The same read
// (src/scan/cluster.ts: every resource the scan lists, protobuf, paginated), each value hashed and its place noted
// by hash; then only the distinct certificates: parsed, their issuer looked up by name and key id, its signature
// checked (one key import per issuer), the whole lint catalog run on each; the report (each certificate with its
// places, the findings with theirs) as JSON. Not done here and done by the scan: keys and their matching, chains
// with Go's checks, relations, per-place findings, bundles, the API server's TLS probe.
// Usage: node bench/scan-floor.ts <module root: a compiled dist folder or src/> <.js|.ts> <kubeconfig>
import { createHash, type KeyObject } from 'node:crypto';

const [root, ext, kubeconfig] = process.argv.slice(2) as [string, string, string];
const load = (m: string): Promise<Record<string, unknown>> => import(`${root}/${m}${ext}`);

const cluster = (await load('scan/cluster')) as typeof import('../src/scan/cluster.ts');
const kc = cluster.loadScanKubeConfig({ kubeconfig });
const byHash = new Map<string, { data: Buffer; places: string[] }>();
const read = await cluster.readCluster(kc, {
  onValue: (v) => {
    const h = createHash('sha256').update(v.data).digest('hex');
    const e = byHash.get(h);
    if (e) e.places.push(v.source);
    else byHash.set(h, { data: Buffer.from(v.data), places: [v.source] });
  },
});
const [{ Certificate }, { scanPem }, { activeLints, LintIndex, lintTarget }, { DEFAULT_POLICY }] = (await Promise.all([
  load('x509/certificate'),
  load('x509/pem'),
  load('lint/engine'),
  load('lint/policy'),
])) as [
  typeof import('../src/x509/certificate.ts'),
  typeof import('../src/x509/pem.ts'),
  typeof import('../src/lint/engine.ts'),
  typeof import('../src/lint/policy.ts'),
];
type Cert = InstanceType<typeof Certificate>;
const certs: { cert: Cert; places: string[] }[] = [];
const seen = new Map<string, { cert: Cert; places: string[] }>();
for (const e of byHash.values()) {
  const text = e.data.toString('latin1');
  if (!text.includes('-----BEGIN CERTIFICATE')) continue;
  for (const b of scanPem(text)) {
    if (!b.der || b.label !== 'CERTIFICATE') continue;
    const k = createHash('sha256').update(b.der).digest('hex');
    const have = seen.get(k);
    if (have) have.places.push(...e.places);
    else {
      const c = { cert: new Certificate(b.der), places: [...e.places] };
      seen.set(k, c);
      certs.push(c);
    }
  }
}
const index = new LintIndex();
for (const c of certs) index.add(c.cert);
const lints = activeLints(DEFAULT_POLICY);
const now = new Date();
const keys = new Map<Cert, KeyObject>();
const findings: unknown[] = [];
const certificates: unknown[] = [];
for (const c of certs) {
  const { issuer, claimed } = index.issuerOf(c.cert);
  let key = issuer && keys.get(issuer);
  if (issuer && !key) {
    key = issuer.publicKey;
    keys.set(issuer, key);
  }
  const signed = key ? c.cert.verifiedBy(key) : false;
  const facts = { issuer, claimed, issuesOthers: false, sharers: index.sharersOf(c.cert), sourceCount: 1 };
  for (const f of lintTarget({ cert: c.cert, source: c.places[0] as string }, facts, { now, policy: DEFAULT_POLICY }, lints))
    findings.push({ ...f, locations: c.places });
  certificates.push({
    sha256: c.cert.sha256,
    subject: c.cert.subject,
    issuer: c.cert.issuer,
    notAfter: c.cert.notAfter,
    signedByIssuer: signed,
    locations: c.places,
  });
}
const summary = { certificates: certs.length, values: byHash.size, failures: read.failures.length };
process.stdout.write(`${JSON.stringify({ summary, findings, certificates }, null, 2)}\n`);
