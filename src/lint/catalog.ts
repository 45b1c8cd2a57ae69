// The lint catalog: every lint, in documentation order. IDs are stable API (policies, SARIF, dashboards).
import { CA_LINTS } from './lints/ca.ts';
import { K8S_LINTS } from './lints/k8s.ts';
import { KEY_LINTS } from './lints/keys.ts';
import { NAME_LINTS } from './lints/names.ts';
import { RFC5280_LINTS } from './lints/rfc5280.ts';
import { STRUCTURE_LINTS } from './lints/structure.ts';
import { VALIDITY_LINTS } from './lints/validity.ts';
import type { Lint } from './types.ts';

export const CATALOG: readonly Lint[] = [
  ...VALIDITY_LINTS,
  ...STRUCTURE_LINTS,
  ...CA_LINTS,
  ...NAME_LINTS,
  ...KEY_LINTS,
  ...RFC5280_LINTS,
  ...K8S_LINTS,
];

export const LINTS_BY_ID: ReadonlyMap<string, Lint> = new Map(CATALOG.map((l) => [l.id, l]));

export const LINT_IDS: ReadonlySet<string> = new Set(LINTS_BY_ID.keys());

if (LINT_IDS.size !== CATALOG.length) throw new Error('duplicate lint id in the catalog');
