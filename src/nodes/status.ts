// `nodes status|pull` on one node: what it holds now (hashes, modes, parsed certificates), drift against
// its manifest files, unknown certificate and key files, the earliest expiry, and CA private keys where
// they must not be. Key material is read to compare it, never returned: only hashes and certificate facts.
import { createHash } from 'node:crypto';
import { readObjects } from '../inventory/read.ts';
import { publicKeyOf, spkiDer, spkiSha256 } from '../x509/keys.ts';
import type { Desired } from './desired.ts';
import { limit } from './fleet.ts';
import { planNode } from './push.ts';
import type { Remote } from './remote.ts';

export interface HeldCert {
  location: string;
  subject: string;
  issuer: string;
  notAfter: string;
  daysLeft: number;
  isCA: boolean;
  sha256: string;
}

export interface HeldFile {
  path: string;
  /** ok: as in the manifest; drift: differs (why); missing; unknown: a PKI file the manifest does not list. */
  state: 'ok' | 'drift' | 'missing' | 'unknown';
  why?: string;
  sha256?: string;
  mode?: string;
  certs: HeldCert[];
  /** The file holds a private key (its hash is never shown). */
  privateKey?: boolean;
}

export interface NodeFinding {
  id: 'ca-key-misplaced' | 'expired' | 'expiring';
  path: string;
  message: string;
}

export interface NodeStatus {
  files: HeldFile[];
  counts: { ok: number; drift: number; missing: number; unknown: number };
  earliestExpiry?: { path: string; notAfter: string; daysLeft: number };
  findings: NodeFinding[];
  /** The bytes, for `pull` only (never rendered). */
  data: Map<string, Buffer>;
}

const DAY = 86_400_000;

export async function statusNode(r: Remote, desired: Desired, node: string, now: Date, warnDays = 30): Promise<NodeStatus> {
  const plan = await planNode(r, desired, node);
  const want = new Map((desired.byNode.get(node) ?? []).map((f) => [f.path, f]));
  const data = new Map(plan.current);
  const unknown = plan.files.filter((f) => f.state === 'stale').map((f) => f.path);
  await limit(unknown, 16, async (p) => {
    const b = await r.read(p).catch(() => null);
    if (b) data.set(p, b);
  });
  const caKeys = new Map(desired.caKeys.map((k) => [k.spki, k.id]));
  const findings: NodeFinding[] = [];
  const files: HeldFile[] = [];
  for (const f of plan.files) {
    const state = f.state === 'same' ? 'ok' : f.state === 'new' ? 'missing' : f.state === 'changed' ? 'drift' : 'unknown';
    const h: HeldFile = { path: f.path, state, certs: [] };
    if (f.why) h.why = f.why;
    const b = data.get(f.path);
    if (b) {
      h.sha256 = createHash('sha256').update(b).digest('hex');
      let objs: ReturnType<typeof readObjects>['objects'] = [];
      try {
        objs = readObjects(b).objects;
      } catch {
        // not a certificate or key file: hashes only
      }
      for (const o of objs) {
        if (o.kind === 'certificate') {
          const c = o.cert;
          const left = Math.floor((c.notAfter.getTime() - now.getTime()) / DAY);
          h.certs.push({
            location: o.location,
            subject: c.subject,
            issuer: c.issuer,
            notAfter: c.notAfter.toISOString(),
            daysLeft: left,
            isCA: c.isCA,
            sha256: c.sha256,
          });
        } else if (o.kind === 'private-key') {
          h.privateKey = true;
          const ca = caKeys.get(spkiSha256(spkiDer(publicKeyOf(o.key))));
          const allowed = want.get(f.path)?.kind === 'private-key' && want.get(f.path)?.role === ca;
          if (ca && !allowed)
            findings.push({
              id: 'ca-key-misplaced',
              path: f.path,
              message: `${f.path} holds the ${ca} private key, which this node must not have`,
            });
        }
      }
    }
    files.push(h);
  }
  let earliest: NodeStatus['earliestExpiry'];
  for (const f of files)
    for (const c of f.certs) {
      if (!earliest || c.notAfter < earliest.notAfter) earliest = { path: f.path, notAfter: c.notAfter, daysLeft: c.daysLeft };
      if (c.daysLeft < 0) findings.push({ id: 'expired', path: f.path, message: `${c.subject} (${f.path}) expired on ${c.notAfter}` });
      else if (c.daysLeft < warnDays)
        findings.push({ id: 'expiring', path: f.path, message: `${c.subject} (${f.path}) expires in ${c.daysLeft} days` });
    }
  const counts = { ok: 0, drift: 0, missing: 0, unknown: 0 };
  for (const f of files) counts[f.state]++;
  const out: NodeStatus = { files, counts, findings, data };
  if (earliest) out.earliestExpiry = earliest;
  return out;
}
