/**
 * After `vite build`: gives dist/manifest.json the Firefox background entry (@crxjs keeps only
 * `service_worker`), then zips dist/ into janus-extension.zip (the Chrome Web Store upload), with fflate.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { zipSync, type Zippable } from 'fflate';

const root = 'dist';
const manifestPath = join(root, 'manifest.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { background: { service_worker: string; scripts?: string[] } };
// Firefox runs background.scripts (as a module: "type": "module"); Chromium 121+ ignores the key.
manifest.background.scripts = [manifest.background.service_worker];
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
if (!files['manifest.json']) throw new Error('dist/manifest.json is missing: run vite build first');
writeFileSync('janus-extension.zip', zipSync(files));
console.log(`janus-extension.zip: ${Object.keys(files).length} files`);
