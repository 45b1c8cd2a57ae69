// Lint policy: every threshold a lint uses, with defaults in code and an optional YAML/JSON file on top.
// Strict schema (policy-schema.ts): a misspelt field is an error, not a silently ignored setting. The schema
// and zod load when a policy is validated; the defaults are written out here, equal to what the schema makes
// of an empty policy (src/lint/policy.test.ts checks), so a process with the default policy never loads zod.
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.ts';
import { lazy } from '../common/lazy.ts';
import { parseYaml } from '../common/yaml.ts';
import { LINT_IDS } from './catalog.ts';
import type { PolicyOutput } from './policy-schema.ts';

const schema = lazy<typeof import('./policy-schema.ts')>(import.meta.url, './policy-schema');

export type Policy = PolicyOutput;

/** What the schema makes of an empty policy (`PolicySchema.parse({})`). */
export const DEFAULT_POLICY: Policy = {
  profile: 'default',
  expiry: { warningDays: 28, criticalDays: 14, caWarningDays: 90, caCriticalDays: 30 },
  validity: { maxLeafDays: 398, maxCaDays: 3653, maxRootDays: 7306, maxBackdateHours: 48 },
  keys: {
    minRsaBits: 2048,
    allowedAlgorithms: ['RSA', 'EC', 'Ed25519', 'Ed448'],
    allowedCurves: ['P-256', 'P-384', 'P-521'],
    fermatRounds: 100,
  },
  signatures: {
    allowed: [
      'sha256WithRSAEncryption',
      'sha384WithRSAEncryption',
      'sha512WithRSAEncryption',
      'rsassaPss',
      'ecdsa-with-SHA256',
      'ecdsa-with-SHA384',
      'ecdsa-with-SHA512',
      'ED25519',
      'ED448',
    ],
  },
  kubernetes: { dnsDomain: 'cluster.local', serviceCIDR: '10.96.0.0/12' },
  lints: { disabled: [], severity: {} },
};

/** Validate parsed policy data. `source` names the file in error messages. */
export function parsePolicy(data: unknown, source: string, knownLintIds: ReadonlySet<string> = LINT_IDS): Policy {
  const { PolicySchema, describeIssue } = schema();
  const r = PolicySchema.safeParse(data ?? {});
  if (!r.success) throw new InputError(`${source}: ${describeIssue(r.error.issues[0] as Parameters<typeof describeIssue>[0])}`);
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

/** Defaults without a path; otherwise read, parse (YAML, which includes JSON) and validate the file. */
export function loadPolicy(path?: string): Policy {
  if (path === undefined) return DEFAULT_POLICY;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read policy file ${path}${code === 'ENOENT' ? ': no such file' : code ? ` (${code})` : ''}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new InputError(`${path}: not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data)))
    throw new InputError(
      `${path}: a policy must be a mapping of sections (profile, expiry, validity, keys, signatures, kubernetes, lints)`,
    );
  return parsePolicy(data, path);
}
