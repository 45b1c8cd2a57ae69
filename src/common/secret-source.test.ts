import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDirs } from '../../test/support/temp.ts';
import { InputError } from './errors.ts';
import { parseSecretSource, resolveSecret } from './secret-source.ts';

const tempDir = tempDirs();

describe('secret sources', () => {
  const d = tempDir('secret-');
  it('env:, file:, pass: and a bare value', () => {
    expect(resolveSecret('env:CA_PASS', 'x', { CA_PASS: 's3cret' })).toBe('s3cret');
    writeFileSync(join(d, 'p'), 'from-file\nsecond line ignored\n');
    expect(resolveSecret(`file:${join(d, 'p')}`, 'x')).toBe('from-file');
    expect(resolveSecret('pass:a:b', 'x')).toBe('a:b');
    expect(resolveSecret('plain', 'x')).toBe('plain');
    expect(parseSecretSource('prompt')).toEqual({ kind: 'prompt' });
  });
  it('one clear line for what is wrong', () => {
    expect(() => resolveSecret('env:NOPE_NOT_SET', 'CA key passphrase', {})).toThrow(
      new InputError('CA key passphrase: environment variable NOPE_NOT_SET is not set'),
    );
    expect(() => resolveSecret(`file:${join(d, 'missing')}`, 'pw')).toThrow(/pw: .*missing: no such file/);
    expect(() => resolveSecret(`file:${d}`, 'pw')).toThrow(/is not a regular file/);
    writeFileSync(join(d, 'big'), Buffer.alloc(70_000, 65));
    expect(() => resolveSecret(`file:${join(d, 'big')}`, 'pw')).toThrow(/too large for a secret/);
    expect(() => parseSecretSource('env:1BAD')).toThrow(/not an environment variable name/);
  });
});
