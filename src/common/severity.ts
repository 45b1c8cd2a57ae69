// How bad a finding is: the one vocabulary of the lint engine, the scan, the monitor's API and every
// renderer (the web dashboard imports it too, so this module imports nothing).
export const SEVERITIES = ['error', 'warning', 'notice'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Higher is worse; `--fail-on` compares with this. */
export const SEVERITY_RANK: Record<Severity, number> = { notice: 0, warning: 1, error: 2 };
