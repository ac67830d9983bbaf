import { crx } from '@crxjs/vite-plugin';
import { defineConfig } from 'vite';
import manifest from './manifest.json' with { type: 'json' };

export default defineConfig({
  plugins: [crx({ manifest: manifest as Parameters<typeof crx>[0]['manifest'] })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The service worker imports node-forge and Argon2: no need for a size warning on them.
    chunkSizeWarningLimit: 2048,
    rollupOptions: { input: { confirm: 'src/popup/confirm.html' } },
  },
  server: { strictPort: true },
});
