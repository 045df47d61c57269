// Offline use (issue 18): after one visit the page opens and trains with the network off,
// from the service worker's cache and the page's data cache, and is installable; a new
// deployment is picked up on the next online visit and its cache replaces the old one.
import fs from 'node:fs';
import path from 'node:path';
import { serve } from './harness.mjs';
import { artifacts, check, verifyTraining, withPage } from './support.mjs';
import { writeServiceWorker } from '../../scripts/offline.mjs';

const SHELL = 'webgpu-mnist-shell-';
const versionOf = (dir) => /const VERSION = "([0-9a-f]+)"/.exec(fs.readFileSync(path.join(dir, 'sw.js'), 'utf8'))?.[1];

/** A second deployment: the built files with a changed title, and their own service worker. */
function nextDeployment(dist) {
  const dir = path.join(artifacts, 'next-deployment');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(dist)) {
    if (f === 'data') fs.symlinkSync(path.join(dist, 'data'), path.join(dir, 'data'));
    else if (f !== 'sw.js') fs.copyFileSync(path.join(dist, f), path.join(dir, f));
  }
  const index = path.join(dir, 'index.html');
  fs.writeFileSync(index, fs.readFileSync(index, 'utf8').replace('</title>', ' (next deployment)</title>'));
  writeServiceWorker(dir);
  return dir;
}

const shellCaches = (page) => page.evaluate(async (prefix) => (await caches.keys()).filter((k) => k.startsWith(prefix)), SHELL);

export async function worksOffline(dist, failures) {
  console.log('case: works offline after the first visit; a new deployment replaces the cache');
  const server = await serve(dist);
  const base = `http://127.0.0.1:${server.address().port}`;
  const next = nextDeployment(dist);
  const [v1, v2] = [versionOf(dist), versionOf(next)];
  const run = '?backend=wgsl&limit=128&batch=16&epochs=1&test_limit=64';
  const offline = async (page, off) => { await page.context().setOffline(off); server.down = off; };
  try {
    await withPage(true, 'offline', async (page, problems) => {
      await page.goto(`${base}/${run}`);
      await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 180_000 });
      await page.waitForFunction(() => document.querySelector('#offline-status')?.dataset.state !== 'pending' && navigator.serviceWorker.controller, null, { timeout: 120_000 });
      const note = await page.locator('#offline-status').innerText();
      check(failures, note.startsWith('Works offline'), `the footer says the page works offline (${note})`);
      check(failures, v1 && JSON.stringify(await shellCaches(page)) === JSON.stringify([SHELL + v1]), `the service worker cached this deployment (${v1})`);
      const cdp = await page.context().newCDPSession(page);
      const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
      check(failures, installabilityErrors.length === 0, `the page is installable (${JSON.stringify(installabilityErrors)})`);
      const { errors, data: manifestText } = await cdp.send('Page.getAppManifest');
      const manifest = JSON.parse(manifestText ?? '{}');
      check(failures, errors.length === 0 && manifest.start_url === './' && manifest.icons?.length > 0, `the web app manifest parses (${JSON.stringify(errors)})`);

      // The network off: the page opens, reads the data from its cache and trains.
      await offline(page, true);
      await page.goto(`${base}/${run}&autostart`);
      await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 300_000, polling: 500 })
        .catch(async (e) => { await page.screenshot({ path: path.join(artifacts, 'offline-timeout.png') }); throw e; });
      const data = await page.locator('#status .notice').first().innerText();
      check(failures, data.includes('from the browser cache'), `offline, the data came from the browser cache (${data})`);
      await verifyTraining(page, failures, 'offline', ['--limit', '128', '--batch', '16', '--epochs', '1']);
      console.log(`  figure: ${server.dropped} request(s) reached the server while it was down`);

      // A new deployment, online: the next visit gets it, and its cache replaces the old one.
      server.root = next;
      await offline(page, false);
      await page.goto(`${base}/${run}`);
      const title = await page.title();
      check(failures, title.endsWith('(next deployment)'), `an online visit gets the new deployment (${title})`);
      // The new worker installs in the background: its cache replaces the old one when it takes over.
      let names = [];
      for (let i = 0; i < 240 && JSON.stringify(names) !== JSON.stringify([SHELL + v2]); i++) {
        await page.waitForTimeout(500);
        names = await shellCaches(page);
      }
      check(failures, v1 !== v2 && JSON.stringify(names) === JSON.stringify([SHELL + v2]), `the new deployment's cache replaced the old one (${v1} → ${v2}: ${names})`);
      await offline(page, true);
      await page.reload();
      await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 180_000 });
      check(failures, (await page.title()).endsWith('(next deployment)'), `offline, the page opens as the new deployment (${await page.title()})`);
      check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
    }, { acceptDownloads: true, userDataDir: path.join(artifacts, 'offline-profile') });
  } finally {
    server.close();
  }
}
