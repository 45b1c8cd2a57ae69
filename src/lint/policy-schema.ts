// The lint policy's schema (zod), apart from src/lint/policy.ts: only a policy file needs it, and zod is ~100
// modules (its locales among them) that a scan or lint with the default policy need not load (docs/benchmarks.md,
// issue #13). src/lint/policy.ts loads this module on first use; its DEFAULT_POLICY is what this schema gives `{}`
// (src/lint/policy.test.ts compares the two).
import { type core, z } from 'zod';
import { InputError } from '../common/errors.ts';
import { isCidr } from './net.ts';
import { DEFAULT_SIGNATURES, KNOWN_SIGNATURE_ALGORITHMS } from './signature-names.ts';
import { SEVERITIES } from './types.ts';

const count = (d: number) => z.number().int().nonnegative().default(d);

const ExpirySchema = z
  .strictObject({
    warningDays: count(28),
    criticalDays: count(14),
    caWarningDays: count(90),
    caCriticalDays: count(30),
  })
  .prefault({})
  .refine((e) => e.criticalDays <= e.warningDays, { message: 'criticalDays must not exceed warningDays', path: ['criticalDays'] })
  .refine((e) => e.caCriticalDays <= e.caWarningDays, {
    message: 'caCriticalDays must not exceed caWarningDays',
    path: ['caCriticalDays'],
  });

const sigAlg = z.string().refine((s) => KNOWN_SIGNATURE_ALGORITHMS.has(s) || /^\d+(\.\d+)+$/.test(s), {
  message: `unknown signature algorithm (use a dotted OID or one of ${[...KNOWN_SIGNATURE_ALGORITHMS.keys()].join(', ')})`,
});

export const PolicySchema = z.strictObject({
  /** default: what matters for a Kubernetes PKI; strict: also what kubeadm does by design (leaf SKI, keyEncipherment on ECDSA). */
  profile: z.enum(['default', 'strict']).default('default'),
  expiry: ExpirySchema,
  validity: z
    .strictObject({
      maxLeafDays: z.number().positive().default(398),
      maxCaDays: z.number().positive().default(3653),
      maxRootDays: z.number().positive().default(7306),
      maxBackdateHours: z.number().nonnegative().default(48),
    })
    .prefault({}),
  keys: z
    .strictObject({
      minRsaBits: z.number().int().min(512).default(2048),
      allowedAlgorithms: z.array(z.enum(['RSA', 'EC', 'Ed25519', 'Ed448', 'DSA'])).default(['RSA', 'EC', 'Ed25519', 'Ed448']),
      allowedCurves: z.array(z.string().min(1)).default(['P-256', 'P-384', 'P-521']),
      fermatRounds: z.number().int().min(0).max(1_000_000).default(100),
    })
    .prefault({}),
  signatures: z
    .strictObject({
      allowed: z.array(sigAlg).default(() => [...DEFAULT_SIGNATURES]),
    })
    .prefault({}),
  kubernetes: z
    .strictObject({
      dnsDomain: z
        .string()
        .regex(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i, 'expected a DNS domain such as cluster.local')
        .default('cluster.local'),
      serviceCIDR: z
        .string()
        .refine((s) => s.split(',').every(isCidr), 'expected a CIDR such as 10.96.0.0/12 (dual-stack: comma separated)')
        .default('10.96.0.0/12'),
    })
    .prefault({}),
  lints: z
    .strictObject({
      disabled: z.array(z.string()).default([]),
      severity: z.record(z.string(), z.enum(SEVERITIES)).default({}),
    })
    .prefault({}),
});

export type Policy = z.output<typeof PolicySchema>;

/** Validate parsed policy data. `source` names the file in error messages; `knownLintIds`: the catalog's. */
export function validatePolicy(data: unknown, source: string, knownLintIds: ReadonlySet<string>): Policy {
  const r = PolicySchema.safeParse(data ?? {});
  if (!r.success) throw new InputError(`${source}: ${describeIssue(r.error.issues[0] as core.$ZodIssue)}`);
  const p = r.data;
  if (knownLintIds) {
    const bad = (id: string, field: string): InputError =>
      new InputError(`${source}: ${field}: unknown lint id '${id}' (see docs/findings.md)`);
    p.lints.disabled.forEach((id, i) => {
      if (!knownLintIds.has(id)) throw bad(id, `lints.disabled[${i}]`);
    });
    for (const id of Object.keys(p.lints.severity)) if (!knownLintIds.has(id)) throw bad(id, `lints.severity.${id}`);
  }
  return p;
}

function describeIssue(issue: core.$ZodIssue): string {
  const path = issue.path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '?';
    return `${path ? `${path}.` : ''}${key}: unknown field`;
  }
  return `${path || '(top level)'}: ${issue.message}`;
}
