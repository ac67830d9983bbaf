/**
 * After `vite build --mode chrome` and `--mode firefox`: finishes each manifest and zips each build
 * for its store (janus-chrome.zip for the Chrome Web Store, janus-firefox.zip for addons.mozilla.org),
 * with fflate and fixed timestamps, so the same tree gives the same zips.
 *
 * @crxjs lists the page script (which the worker injects with the scripting API, imported with
 * `?script`) as web-accessible to every http(s) page. The scripting API needs no such entry, and
 * any entry lets a page probe for the extension by loading it (docs/PERMISSIONS.md), so only the
 * entry vite.config.ts declares (the pipe frame: src/background/transport.ts) ships.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import { PIPE } from '../vite.config.ts';

for (const target of ['chrome', 'firefox'] as const) {
  const root = join('dist', target);
  const manifestPath = join(root, 'manifest.json');
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new Error(`${manifestPath} is missing: run vite build --mode ${target} first`);
  }
  const wars = ((manifest['web_accessible_resources'] ?? []) as { resources: string[] }[]).filter((w) => w.resources.every((r) => r === PIPE));
  if (wars.length) manifest['web_accessible_resources'] = wars;
  else delete manifest['web_accessible_resources'];
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');

  const files: Zippable = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else files[relative(root, p).split('\\').join('/')] = [readFileSync(p), { level: 9, mtime: new Date('2000-01-01T00:00:00Z') }];
    }
  };
  walk(root);
  const zip = `janus-${target}.zip`;
  writeFileSync(zip, zipSync(files));
  console.log(`${zip}: ${Object.keys(files).length} files from ${root}`);
}
