// `anchorage bundle build --config bundle.yaml --out DIR`: the trust bundles controller offline, for GitOps: the
// same sources, filters and renderers write the target objects (DIR/manifests.yaml) and each data key as a file.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { InputError } from '../../common/errors.ts';
import { collect } from '../args.ts';
import { writeOutputs } from '../outputs.ts';

export interface BundleBuildOptions {
  config: string;
  out: string;
  bundle?: string;
  now?: string;
  trustNamespace: string;
  namespace?: string[];
  defaultCas?: string;
  defaultCasVersion?: string;
  allowHttpsSources?: boolean;
  force?: boolean;
}

const MAX_CONFIG = 16 << 20;

async function build(o: BundleBuildOptions): Promise<void> {
  const [{ buildBundle }, { loadDefaultCAs }] = await Promise.all([import('../../bundles/build.ts'), import('../../bundles/defaults.ts')]);
  let yaml: string;
  try {
    const buf = readFileSync(o.config);
    if (buf.length > MAX_CONFIG) throw new InputError(`too large: --config over ${MAX_CONFIG} bytes`);
    yaml = buf.toString('utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      `--config: ${o.config}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  const defaultCAs = loadDefaultCAs(o.defaultCas, o.defaultCasVersion);
  let now: Date | undefined;
  if (o.now !== undefined) {
    now = new Date(o.now);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(o.now) || Number.isNaN(now.getTime()))
      throw new InputError(`--now: '${o.now}' is not an RFC 3339 time (2026-01-02T03:04:05Z)`);
  }
  // The previous build in --out: its status.json and its PEM output carry the rotation state.
  const inOut = (rel: string): string | undefined => {
    const f = join(o.out, rel);
    if (!existsSync(f) || !statSync(f).isFile()) return undefined;
    if (statSync(f).size > MAX_CONFIG) throw new InputError(`too large: ${f} over ${MAX_CONFIG} bytes`);
    return readFileSync(f, 'utf8');
  };
  let status: Record<string, unknown> | undefined;
  const statusText = inOut('status.json');
  if (statusText !== undefined) {
    try {
      status = JSON.parse(statusText) as Record<string, unknown>;
    } catch (e) {
      throw new InputError(`${join(o.out, 'status.json')}: ${(e as Error).message}`);
    }
    const ok =
      status !== null &&
      typeof status === 'object' &&
      (status.fingerprints === undefined ||
        (Array.isArray(status.fingerprints) && status.fingerprints.every((f) => typeof f === 'string'))) &&
      (status.retiring === undefined ||
        (Array.isArray(status.retiring) &&
          status.retiring.every(
            (r: { sha256?: unknown; removedAt?: unknown; pem?: unknown }) =>
              typeof r?.sha256 === 'string' && typeof r.removedAt === 'string' && typeof r.pem === 'string',
          )));
    if (!ok) throw new InputError(`${join(o.out, 'status.json')}: not the status.json of a previous bundle build`);
  }
  const r = await buildBundle({
    yaml,
    ...(o.bundle !== undefined ? { bundle: o.bundle } : {}),
    ...(now ? { now } : {}),
    previous: { ...(status ? { status: status as never } : {}), read: inOut },
    trustNamespace: o.trustNamespace,
    namespaces: o.namespace ?? [],
    ...(defaultCAs ? { defaultCAs } : {}),
    ...(o.allowHttpsSources
      ? {
          https: async (url: string) => {
            const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
            if (!res.ok) throw new Error(`HTTP ${res.status}`);
            const buf = new Uint8Array(await res.arrayBuffer());
            if (buf.length > 4 << 20) throw new Error('too large: over 4 MiB');
            return buf;
          },
        }
      : {}),
  });
  const outputs = [...r.files].map(([rel, data]) => ({ path: join(o.out, rel), data }));
  const manifests = r.targets.map((t) => stringify(t.body, { lineWidth: 0 })).join('---\n');
  if (r.targets.length) outputs.push({ path: join(o.out, 'manifests.yaml'), data: Buffer.from(manifests) });
  for (const d of new Set(outputs.map((f) => dirname(f.path)))) mkdirSync(d, { recursive: true });
  writeOutputs(outputs, { force: !!o.force });
  const soonest = r.certs.reduce((m, c) => Math.min(m, c.notAfter.getTime()), Number.POSITIVE_INFINITY);
  const retiring = r.status.retiring.length ? ` (${r.status.retiring.length} retiring)` : '';
  process.stdout.write(
    `${r.bundle.kind} ${r.bundle.name}: ${r.certs.length} CA certificates${retiring}, soonest expiry ${new Date(soonest).toISOString()}` +
      `${r.defaultCAsVersion ? `, default CAs ${r.defaultCAsVersion}` : ''}; ${r.targets.length} target objects; wrote ${outputs.length} files to ${o.out}\n`,
  );
}

export function register(program: Command): void {
  const bundle = program.command('bundle').description('trust bundles offline (what the controller writes, as files)');
  bundle
    .command('build')
    .description(
      'resolve a bundle from a YAML config (the bundle plus the ConfigMaps, Secrets and Namespaces it reads) and write its targets',
    )
    .requiredOption(
      '--config <file>',
      "YAML: ClusterBundles/Bundles (or trust-manager's Bundles and ClusterBundles) and the objects their sources name",
    )
    .requiredOption(
      '--out <dir>',
      'output folder: manifests.yaml, configmap/<key>, secret/<key>, clustertrustbundle.pem, status.json (read back by the next build)',
    )
    .option('--bundle <name>', 'the bundle to build when the config holds several (the others serve as bundle sources)')
    .option('--now <time>', 'the time the build runs at (RFC 3339; default now): drops expired CAs and ends grace periods as of it')
    .option('--trust-namespace <ns>', 'where ClusterBundle sources live unless a source names one', 'anchorage')
    .option('--namespace <ns>', 'also write ClusterBundle targets to this namespace (repeatable)', collect)
    .option('--default-cas <file>', "PEM file of the default public CAs (default: Debian's ca-certificates)")
    .option('--default-cas-version <v>', 'the version recorded for --default-cas')
    .option('--allow-https-sources', 'fetch https sources (pinned by SHA-256)')
    .option('--force', 'replace existing output files')
    .action(async (o: BundleBuildOptions) => {
      await build(o);
    });
}
