// Writes the service worker (app/pwa/sw.js) into a built page: its version is a hash of every
// built file, and its lists say which files are cached at install and which on first use.
// Runs from scripts/post-build.mjs (Trunk's post_build hook), or by hand on a built folder:
//   node scripts/offline.mjs DIR
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'app', 'pwa', 'sw.js');

function filesUnder(dir, prefix = '') {
  // statSync follows links (a test deployment links its data folder).
  return fs.readdirSync(dir).flatMap((name) =>
    fs.statSync(path.join(dir, name)).isDirectory() ? filesUnder(path.join(dir, name), `${prefix}${name}/`) : [`${prefix}${name}`]).sort();
}

/** Writes DIR/sw.js and returns its version. */
export function writeServiceWorker(dir) {
  // The datasets are kept by the page itself; the worker would only store them twice.
  const files = filesUnder(dir).filter((f) => f !== 'sw.js' && !f.startsWith('data/'));
  for (const needed of ['index.html', 'manifest.webmanifest']) {
    if (!files.includes(needed)) throw new Error(`${dir} has no ${needed}: is it a built page?`);
  }
  const hash = crypto.createHash('sha256');
  for (const f of files) hash.update(`${f}\0`).update(fs.readFileSync(path.join(dir, f)));
  const version = hash.digest('hex').slice(0, 16);
  const onUse = files.filter((f) => f.startsWith('gpu_worker'));
  const precache = files.filter((f) => !onUse.includes(f));
  const source = fs.readFileSync(TEMPLATE, 'utf8')
    .replace("'__VERSION__'", JSON.stringify(version))
    .replace('__PRECACHE__', JSON.stringify(precache))
    .replace('__ON_USE__', JSON.stringify(onUse));
  if (source.includes('__')) throw new Error(`${TEMPLATE}: a placeholder was not filled`);
  fs.writeFileSync(path.join(dir, 'sw.js'), source);
  return version;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node scripts/offline.mjs DIR');
  console.log(`service worker ${writeServiceWorker(dir)} written to ${dir}/sw.js`);
}
