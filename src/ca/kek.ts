// CA keys at rest: sealed with AES-256-GCM under a key-encryption key that comes from a file or the
// environment (never the database). The CA's name is the associated data, so a sealed key moved to
// another CA's row does not open.
import { createCipheriv, createDecipheriv, createPrivateKey, type KeyObject, randomBytes } from 'node:crypto';
import { InputError } from '../common/errors.ts';
import { resolveSecret } from '../common/secret-source.ts';

export const KEK_BYTES = 32;

/** A new key-encryption key as the file `anchorage ca kek` writes: 64 hex digits and a newline. */
export function newKek(): string {
  return `${randomBytes(KEK_BYTES).toString('hex')}\n`;
}

/** `file:PATH` or `env:NAME` (or a literal, for tests): 64 hex digits or base64 of 32 bytes. */
export function loadKek(spec: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const text = resolveSecret(spec, 'key-encryption key', env).trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(text)
    ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(text)
      ? Buffer.from(text, 'base64')
      : undefined;
  if (!bytes || bytes.length !== KEK_BYTES)
    throw new InputError('key-encryption key must be 32 bytes, written as 64 hex digits or base64 (anchorage ca kek --out FILE makes one)');
  return bytes;
}

const aad = (name: string) => Buffer.from(`anchorage-ca-key:${name}`);

export function sealKey(kek: Buffer, name: string, key: KeyObject): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv).setAAD(aad(name));
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  const ct = Buffer.concat([c.update(pkcs8), c.final()]);
  return ['v1', iv.toString('base64'), ct.toString('base64'), c.getAuthTag().toString('base64')].join('.');
}

export function openKey(kek: Buffer, name: string, sealed: string): KeyObject {
  const [v, iv, ct, tag] = sealed.split('.');
  if (v !== 'v1' || !iv || !ct || !tag) throw new InputError(`the sealed key of ${name} is damaged`);
  try {
    const d = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64')).setAAD(aad(name));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    const der = Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    throw new InputError(`cannot open the key of ${name}: wrong key-encryption key (or the sealed key was altered)`);
  }
}
