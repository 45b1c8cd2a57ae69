// `anchorage pki ca-keys encrypt|decrypt` and `pki root-key export|remove|restore`: the CA keys at rest.
import type { Command } from 'commander';
import { InputError } from '../../common/errors.ts';
import { resolveSecret } from '../../common/secret-source.ts';
import { convertCaKeys, exportRootKey, removeRootKey, restoreRootKey } from '../../pki/ca-keys.ts';
import type { KeyAccess } from '../../pki/key-protection.ts';
import { configFor } from '../../pki/service.ts';
import { checkFormat, printOutput } from '../output.ts';

const PASSPHRASE_HELP = 'passphrase of the CA keys: env:NAME, file:PATH or prompt';

/** The passphrase; a new one typed at a prompt is asked twice (a typo would lock the keys for good). */
function keyAccess(o: { caPassphrase?: string }, newPassphrase = false): KeyAccess {
  if (o.caPassphrase === undefined) return {};
  const passphrase = resolveSecret(o.caPassphrase, 'CA key passphrase');
  if (newPassphrase && o.caPassphrase === 'prompt' && resolveSecret('prompt', 'CA key passphrase again') !== passphrase)
    throw new InputError('--ca-passphrase prompt: the two passphrases differ; nothing written');
  return { passphrase };
}

export function register(program: Command): void {
  const pki = program.commands.find((c) => c.name() === 'pki') ?? program.command('pki');

  const caKeys = pki
    .command('ca-keys')
    .description('keep the CA keys in DIR/store encrypted (PKCS#8, PBES2 PBKDF2-HMAC-SHA256 + AES-256-CBC) or plain');
  for (const [name, to, what] of [
    ['encrypt', 'encrypted', 'encrypt every CA key in DIR/store with the passphrase (node trees are unchanged)'],
    ['decrypt', 'plain', 'store every CA key in DIR/store unencrypted again'],
  ] as const) {
    caKeys
      .command(name)
      .description(what)
      .requiredOption('--dir <dir>', 'PKI directory')
      .requiredOption('--ca-passphrase <source>', PASSPHRASE_HELP)
      .option('-o, --output <format>', 'table|json|yaml', 'table')
      .action(async (o: { dir: string; caPassphrase: string; output: string }) => {
        const format = checkFormat(o.output, ['table', 'json', 'yaml']);
        const r = await convertCaKeys({ dir: o.dir, to, keys: keyAccess(o, to === 'encrypted') });
        printOutput(r, format, () => {
          const list = r.keys.map((k) => `  ${k.id}: ${k.state === 'removed' ? 'not in the store (root-key remove)' : k.state}\n`).join('');
          return `${r.changed.length ? `${name}ed ${r.changed.join(', ')}` : `nothing to ${name}: the CA keys already are ${to}`} in ${o.dir}/store\n${list}`;
        });
      });
  }

  const root = pki.command('root-key').description("move the offline root CA's key out of DIR/store, and back");
  root
    .command('export')
    .description("copy the root key, as the store holds it (encrypted if the store's CA keys are), to FILE (0600)")
    .requiredOption('--dir <dir>', 'PKI directory')
    .requiredOption('--out <file>', 'where to write it (outside DIR/store: offline media)')
    .option('--config <file>', 'config (default: DIR/cluster.yaml)')
    .option('--force', 'replace FILE if it exists')
    .action(async (o: { dir: string; out: string; config?: string; force?: boolean }) => {
      const r = await exportRootKey({ dir: o.dir, config: configFor(o.dir, o.config), out: o.out, ...(o.force ? { force: true } : {}) });
      process.stdout.write(
        `wrote the root key ${r.id} to ${r.out} (${r.encrypted ? 'encrypted' : 'not encrypted'}); keep it offline, then: anchorage pki root-key remove --dir ${o.dir} --backup ${r.out}\n`,
      );
    });
  root
    .command('remove')
    .description('delete the root key from DIR/store once --backup is proved to hold it; bring it back per run with --root-key')
    .requiredOption('--dir <dir>', 'PKI directory')
    .requiredOption('--backup <file>', 'the exported copy: checked to be this very key before anything is removed')
    .option('--config <file>', 'config (default: DIR/cluster.yaml)')
    .option('--ca-passphrase <source>', `${PASSPHRASE_HELP} (when --backup is encrypted and differs from the store's file)`)
    .action(async (o: { dir: string; backup: string; config?: string; caPassphrase?: string }) => {
      const r = await removeRootKey({ dir: o.dir, config: configFor(o.dir, o.config), backup: o.backup, keys: keyAccess(o) });
      process.stdout.write(
        `removed the root key ${r.id} from ${o.dir}/store (public key SHA-256 ${r.spkiSha256}); commands that sign with it (init issuing a cluster CA, rotate-ca new-ca) need --root-key FILE\n`,
      );
    });
  root
    .command('restore')
    .description('put the root key back into DIR/store (encrypted when the store keeps its CA keys encrypted)')
    .requiredOption('--dir <dir>', 'PKI directory')
    .requiredOption('--from <file>', 'the root key file')
    .option('--config <file>', 'config (default: DIR/cluster.yaml)')
    .option('--ca-passphrase <source>', PASSPHRASE_HELP)
    .action(async (o: { dir: string; from: string; config?: string; caPassphrase?: string }) => {
      const r = await restoreRootKey({ dir: o.dir, config: configFor(o.dir, o.config), from: o.from, keys: keyAccess(o) });
      process.stdout.write(`restored the root key ${r.id} into ${o.dir}/store (${r.encrypted ? 'encrypted' : 'not encrypted'})\n`);
    });
}
