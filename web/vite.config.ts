// Builds the dashboard into web/dist (`npm run build:web`), which `anchorage serve` serves at `/`.
// Relative asset URLs, so the page works under any path prefix a proxy puts in front of the server.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  logLevel: 'warn',
});
