/**
 * Two builds from one tree: `vite build --mode chrome` writes dist/chrome, `vite build --mode firefox`
 * writes dist/firefox (`npm run build` runs both, then zips each). The manifest differences are
 * made here from the one manifest.json (src/shared-ext/browser.ts holds the run-time differences);
 * scripts/package-extension.ts finishes each manifest and zips it.
 */
import { crx } from '@crxjs/vite-plugin';
import { defineConfig } from 'vite';
import source from './manifest.json' with { type: 'json' };

type Target = 'chrome' | 'firefox';
export const PIPE = 'src/content/pipe.html';
type Manifest = Parameters<typeof crx>[0]['manifest'];

export function manifestFor(target: Target): Record<string, unknown> {
  const m = structuredClone(source) as Record<string, unknown> & { background: Record<string, unknown> };
  if (target === 'chrome') {
    // Chrome warns about keys it does not know (browser_specific_settings is Firefox's).
    delete m['browser_specific_settings'];
    m.background = { service_worker: m.background['service_worker'], type: 'module' };
    // The pipe frame that carries large bodies as bytes (src/background/transport.ts), at a URL that
    // changes every session, so that no page can probe for it by the extension's id.
    m['web_accessible_resources'] = [{ resources: [PIPE], matches: (m['host_permissions'] as string[]).slice(), use_dynamic_url: true }];
  } else {
    // Firefox runs MV3 backgrounds as event pages: background.scripts only; a service_worker key
    // is ignored with a warning (web-ext BACKGROUND_SERVICE_WORKER_IGNORED).
    delete m['minimum_chrome_version'];
    m.background = { scripts: [m.background['service_worker']], type: 'module' };
  }
  return m;
}

export default defineConfig(({ mode }) => {
  const target: Target = mode === 'firefox' ? 'firefox' : 'chrome';
  return {
    // The relay is one self-contained file: no loader chunks, so no web_accessible_resources that any
    // page could probe by the extension's id (docs/PERMISSIONS.md, fingerprinting).
    plugins: [crx({ manifest: manifestFor(target) as unknown as Manifest, browser: target, contentScripts: { standaloneFiles: ['src/content/relay.ts'] } })],
    build: {
      outDir: `dist/${target}`,
      emptyOutDir: true,
      target: 'es2022',
      // The service worker imports node-forge and Argon2: no need for a size warning on them.
      chunkSizeWarningLimit: 2048,
      rollupOptions: { input: { confirm: 'src/popup/confirm.html', pipe: PIPE } },
    },
    server: { strictPort: true },
  };
});
