// `anchorage bundle build --config bundle.yaml --out DIR`: the trust bundles controller offline, for GitOps: the
// same sources, filters and renderers write the target objects (DIR/manifests.yaml) and each data key as a file.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { InputError } from '../../common/errors.ts';
import { collect } from '../args.ts';
import { writeOutputs } from '../outputs.ts';

export interface BundleBuildOptions {
  config: string;
  out: string;
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
  const r = await buildBundle({
    yaml,
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
  process.stdout.write(
    `${r.bundle.kind} ${r.bundle.name}: ${r.certs.length} CA certificates, soonest expiry ${new Date(soonest).toISOString()}` +
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
    .requiredOption('--config <file>', 'YAML: one ClusterBundle/Bundle (or trust-manager Bundle) and the objects its sources name')
    .requiredOption('--out <dir>', 'output folder: manifests.yaml and configmap/<key>, secret/<key>, clustertrustbundle.pem')
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
