// RC2-CBC decryption (RFC 2268), hand-written because OpenSSL 3 moved RC2 to its legacy provider, which
// Node does not load: createDecipheriv('rc2-40-cbc') fails with "unsupported". PKCS#12 files from older
// OpenSSL, `openssl pkcs12 -export -legacy` and Java 8 encrypt their certificate bags with 40-bit RC2.
// Decryption only: Anchorage never writes RC2.

// RFC 2268 section 2: PITABLE, a permutation of 0..255 derived from the digits of pi.
const PITABLE = Uint8Array.from(
  Buffer.from(
    'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32' +
      'bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
      '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a' +
      '961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
      '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e' +
      'c5f3db47e5a59c770aa62068fe7fc1ad',
    'hex',
  ),
);

/** Expanded key: 64 16-bit words. */
function expandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  const t = key.length;
  if (t < 1 || t > 128) throw new Error('RC2 key must be 1..128 bytes');
  const l = new Uint8Array(128);
  l.set(key);
  for (let i = t; i < 128; i++) l[i] = PITABLE[((l[i - 1] as number) + (l[i - t] as number)) & 0xff] as number;
  const t8 = (effectiveBits + 7) >> 3;
  const tm = 0xff >> (8 * t8 - effectiveBits);
  l[128 - t8] = PITABLE[(l[128 - t8] as number) & tm] as number;
  for (let i = 127 - t8; i >= 0; i--) l[i] = PITABLE[(l[i + 1] as number) ^ (l[i + t8] as number)] as number;
  const k = new Uint16Array(64);
  for (let i = 0; i < 64; i++) k[i] = (l[2 * i] as number) | ((l[2 * i + 1] as number) << 8);
  return k;
}

const ror = (x: number, s: number): number => ((x >>> s) | (x << (16 - s))) & 0xffff;

/** Decrypt one 8-byte block in place: 5 mixing rounds, mash, 6 mixing, mash, 5 mixing, all inverted. */
function decryptBlock(k: Uint16Array, b: Uint8Array, o: number): void {
  let r0 = (b[o] as number) | ((b[o + 1] as number) << 8);
  let r1 = (b[o + 2] as number) | ((b[o + 3] as number) << 8);
  let r2 = (b[o + 4] as number) | ((b[o + 5] as number) << 8);
  let r3 = (b[o + 6] as number) | ((b[o + 7] as number) << 8);
  let j = 63;
  const mix = (rounds: number): void => {
    for (let n = 0; n < rounds; n++) {
      r3 = (ror(r3, 5) - (k[j--] as number) - (r2 & r1) - (~r2 & r0)) & 0xffff;
      r2 = (ror(r2, 3) - (k[j--] as number) - (r1 & r0) - (~r1 & r3)) & 0xffff;
      r1 = (ror(r1, 2) - (k[j--] as number) - (r0 & r3) - (~r0 & r2)) & 0xffff;
      r0 = (ror(r0, 1) - (k[j--] as number) - (r3 & r2) - (~r3 & r1)) & 0xffff;
    }
  };
  const mash = (): void => {
    r3 = (r3 - (k[r2 & 63] as number)) & 0xffff;
    r2 = (r2 - (k[r1 & 63] as number)) & 0xffff;
    r1 = (r1 - (k[r0 & 63] as number)) & 0xffff;
    r0 = (r0 - (k[r3 & 63] as number)) & 0xffff;
  };
  mix(5);
  mash();
  mix(6);
  mash();
  mix(5);
  b[o] = r0 & 0xff;
  b[o + 1] = r0 >> 8;
  b[o + 2] = r1 & 0xff;
  b[o + 3] = r1 >> 8;
  b[o + 4] = r2 & 0xff;
  b[o + 5] = r2 >> 8;
  b[o + 6] = r3 & 0xff;
  b[o + 7] = r3 >> 8;
}

/** Raw ECB block decryption, for the RFC 2268 test vectors. */
export function rc2DecryptBlock(key: Uint8Array, effectiveBits: number, block: Uint8Array): Uint8Array {
  const out = Uint8Array.from(block);
  decryptBlock(expandKey(key, effectiveBits), out, 0);
  return out;
}

/** RC2-CBC decryption with PKCS#7 padding removal. Throws on bad length or padding (wrong key). */
export function rc2CbcDecrypt(key: Uint8Array, effectiveBits: number, iv: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length === 0 || data.length % 8 !== 0) throw new Error('bad decrypt: RC2 ciphertext is not a whole number of blocks');
  if (iv.length !== 8) throw new Error('RC2 IV must be 8 bytes');
  const k = expandKey(key, effectiveBits);
  const out = Uint8Array.from(data);
  for (let o = 0; o < out.length; o += 8) {
    decryptBlock(k, out, o);
    const prev = o === 0 ? iv : data.subarray(o - 8, o);
    for (let i = 0; i < 8; i++) out[o + i] = (out[o + i] as number) ^ (prev[i] as number);
  }
  const pad = out[out.length - 1] as number;
  if (pad < 1 || pad > 8) throw new Error('bad decrypt: RC2 padding');
  for (let i = out.length - pad; i < out.length; i++) if (out[i] !== pad) throw new Error('bad decrypt: RC2 padding');
  return out.subarray(0, out.length - pad);
}
