// Lint policy: every threshold a lint uses, with defaults in code and an optional YAML/JSON file on top.
// Strict schema (src/lint/policy-schema.ts, loaded only when a file is read): a misspelt field is an error, not a
// silently ignored setting.
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.ts';
import { lazy } from '../common/lazy.ts';
import { parseYaml } from '../common/yaml.ts';
import { LINT_IDS } from './catalog.ts';
import type { Policy } from './policy-schema.ts';
import { DEFAULT_SIGNATURES } from './signature-names.ts';

export type { Policy } from './policy-schema.ts';

const schema = lazy<typeof import('./policy-schema.ts')>(import.meta.url, './policy-schema');

/** What the schema gives an empty policy (src/lint/policy.test.ts checks it is exactly that). */
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
  signatures: { allowed: [...DEFAULT_SIGNATURES] },
  kubernetes: { dnsDomain: 'cluster.local', serviceCIDR: '10.96.0.0/12' },
  lints: { disabled: [], severity: {} },
};

/** Validate parsed policy data. `source` names the file in error messages. */
export function parsePolicy(data: unknown, source: string, knownLintIds: ReadonlySet<string> = LINT_IDS): Policy {
  return schema().validatePolicy(data, source, knownLintIds);
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
