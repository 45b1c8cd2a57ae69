// Certificates made by openssl itself, for tests that need a peer's output as their oracle's input.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const openssl = (cwd: string, ...args: string[]): string => execFileSync('openssl', args, { cwd, stdio: 'pipe' }).toString();

/** The lowercase hex SHA-256 of a certificate as `openssl x509 -fingerprint -sha256` computes it: from PEM text, or a file with `file: true`. */
export function opensslFingerprint(pemOrFile: string, o: { file?: boolean } = {}): string {
  const out = o.file
    ? execFileSync('openssl', ['x509', '-in', pemOrFile, '-noout', '-fingerprint', '-sha256'], { stdio: 'pipe' })
    : execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: pemOrFile, stdio: 'pipe' });
  return (/=([0-9A-F:]+)/.exec(out.toString())?.[1] ?? '').replaceAll(':', '').toLowerCase();
}

/** The fingerprint of every certificate of a PEM bundle, in the bundle's order, as openssl reads them. */
export const bundleFingerprints = (bundle: string): string[] =>
  bundle
    .split(/(?=-----BEGIN CERTIFICATE-----)/)
    .filter((b) => b.includes('BEGIN'))
    .map((b) => opensslFingerprint(b));

const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed P-256 CA: `<name>.crt` and `<name>.key` in `dir`. */
export function opensslCa(dir: string, name: string, subject: string, days = 30): void {
  openssl(
    dir,
    'req',
    '-x509',
    ...P256,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-subj',
    subject,
    '-days',
    String(days),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  );
}

/** A P-256 key and certificate `<name>.key`/`<name>.crt` signed by `<ca>`, with extensions as openssl's extfile lines. */
export function opensslIssue(dir: string, ca: string, name: string, subject: string, ext: string, days = 30): void {
  openssl(dir, 'req', ...P256, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    String(days),
    '-extfile',
    `${name}.ext`,
  );
}
