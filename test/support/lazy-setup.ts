// Vitest setup (vitest.config.ts): the modules product code loads lazily with require() (src/common/lazy.ts)
// come from vitest's own module graph, so a test sees one instance of each (one InputError class, one
// Certificate class). A lazy module missing here makes lazy() throw in tests instead of loading a copy.
import { onlyProvidedLazy, provideLazy } from '../../src/common/lazy.ts';

const modules: [string, unknown][] = [
  ['../../src/k8s/kubeconfig.ts', await import('../../src/k8s/kubeconfig.ts')],
  ['../../src/lint/policy-schema.ts', await import('../../src/lint/policy-schema.ts')],
  ['../../src/x509/crl.ts', await import('../../src/x509/crl.ts')],
  ['../../src/x509/csr.ts', await import('../../src/x509/csr.ts')],
  ['../../src/x509/jks.ts', await import('../../src/x509/jks.ts')],
  ['../../src/x509/pkcs7.ts', await import('../../src/x509/pkcs7.ts')],
  ['../../src/x509/pkcs12.ts', await import('../../src/x509/pkcs12.ts')],
];
for (const [path, mod] of modules) provideLazy(new URL(path, import.meta.url).href, mod);
onlyProvidedLazy();
