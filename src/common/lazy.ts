// Modules loaded the first time they are needed, synchronously (the readers that need them are synchronous):
// require() of an ES module (Node >= 22.12) returns the instance the import graph already holds, or loads it.
// Start-up: `inspect` of one PEM certificate need not load the PKCS#12, JKS, PKCS#7, CSR, CRL and kubeconfig
// readers (docs/benchmarks.md, issue #12).
// A test runner with its own module graph (vitest) would get second copies from require() (a second
// InputError class, so `instanceof` fails): test/support/lazy-setup.ts (vitest.config.ts) provides its own instances first.

const provided = new Map<string, unknown>();
let providedOnly = false;

/**
 * `lazy<typeof import('../x509/pkcs12.ts')>(import.meta.url, '../x509/pkcs12')`: a function that returns
 * that module, loading it at the first call. The path has no extension: the caller's own is used (.ts in a
 * checkout, .js compiled).
 */
export function lazy<T>(from: string, path: string): () => T {
  let mod: T | undefined;
  return () => {
    if (mod === undefined) {
      const url = new URL(`${path}${from.slice(from.lastIndexOf('.'))}`, from);
      const given = provided.get(url.href) as T | undefined;
      if (given === undefined && providedOnly) throw new Error(`lazy module ${url.href} was not provided (test/support/lazy-setup.ts)`);
      mod =
        given ??
        (process.getBuiltinModule('node:module').createRequire(from)(process.getBuiltinModule('node:url').fileURLToPath(url)) as T);
    }
    return mod;
  };
}

/** For test runners: `lazy` returns `mod` for the module at `url` instead of loading its own copy. */
export function provideLazy(url: string, mod: unknown): void {
  provided.set(url, mod);
}

/** For test runners: from now on `lazy` refuses a module that was not provided, so none is loaded twice. */
export function onlyProvidedLazy(): void {
  providedOnly = true;
}
