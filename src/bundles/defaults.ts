// The default public CA set: Debian's ca-certificates package (the Mozilla roots, one file each under
// /usr/share/ca-certificates/mozilla/, without anything added locally to /etc/ssl/certs), at the version dpkg
// recorded, so a bundle's status says exactly which set it holds; or a file named on the command line with the
// version the operator gives it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.ts';
import { contentHash } from './render.ts';

export const DEBIAN_MOZILLA_DIR = '/usr/share/ca-certificates/mozilla';

export interface DefaultCAs {
  pem: string;
  /** `debian-ca-certificates/<dpkg version>+sha256:<12 hex>`, or the given version with the digest. */
  version: string;
}

function dpkgVersion(pkg: string, statusFile = '/var/lib/dpkg/status'): string | undefined {
  if (!existsSync(statusFile)) return undefined;
  for (const stanza of readFileSync(statusFile, 'utf8').split('\n\n'))
    if (stanza.startsWith(`Package: ${pkg}\n`)) return /^Version: (.+)$/m.exec(stanza)?.[1];
  return undefined;
}

/** Load the default set: `file` (with `version`), else Debian's package; undefined when neither exists. */
export function loadDefaultCAs(file?: string, version?: string): DefaultCAs | undefined {
  if (file !== undefined) {
    if (!existsSync(file)) throw new InputError(`--default-cas: ${file}: no such file`);
    const pem = readFileSync(file, 'utf8');
    return { pem, version: `${version ?? 'file'}+sha256:${contentHash(pem).slice(0, 12)}` };
  }
  if (!existsSync(DEBIAN_MOZILLA_DIR)) return undefined;
  const files = readdirSync(DEBIAN_MOZILLA_DIR)
    .filter((f) => f.endsWith('.crt'))
    .sort();
  const pem = files.map((f) => readFileSync(join(DEBIAN_MOZILLA_DIR, f), 'utf8').trim()).join('\n');
  const v = dpkgVersion('ca-certificates') ?? 'unknown';
  return { pem: `${pem}\n`, version: `debian-ca-certificates/${v}+sha256:${contentHash(pem).slice(0, 12)}` };
}
