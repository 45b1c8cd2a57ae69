import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Modules product code loads lazily come from vitest's module graph, not a second copy (src/common/lazy.ts).
    setupFiles: ['test/support/lazy-setup.ts'],
    // The tests run the TypeScript sources: bin/anchorage.js does not use the `npm run build:cli` bundle for
    // `pki` (test/cli-bundle.test.ts compares that bundle with the sources).
    env: { ANCHORAGE_NO_BUNDLE: '1' },
    // Hang guards, not timing assertions: generous, because CI runs test files two at a time on 2 cores.
    testTimeout: 300_000,
    // Hooks build Go oracles (zlint, the Go verifier) on a cold machine: a long hang guard.
    hookTimeout: 1_800_000,
    pool: 'forks',
    // Most tests wait on child processes (openssl, kubeadm, the CLI, a control plane): two at a time on 2 cores.
    maxWorkers: 2,
  },
});
