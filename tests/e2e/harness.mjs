// Shared by the end-to-end tests and the browser benchmark: a static server for dist/ on
// 127.0.0.1 and Debian's Chromium launched headless (never a downloaded browser).
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.png': 'image/png', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json' };

/**
 * Serves `root`; paths under /corrupt/ serve the same files with every .gz data file cut in half.
 * `server.root` can be changed (a new deployment), and `server.down = true` drops every
 * connection unanswered, as a network that is off would.
 */
export function serve(root) {
  const server = http.createServer((req, res) => {
    if (server.down) { server.dropped++; req.socket.destroy(); return; }
    const root = server.root;
    const url = new URL(req.url, 'http://127.0.0.1');
    const corrupt = url.pathname.startsWith('/corrupt/');
    let file = path.join(root, decodeURIComponent(corrupt ? url.pathname.slice('/corrupt'.length) : url.pathname));
    if (!file.startsWith(root)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) { res.writeHead(404).end('not found'); return; }
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    if (corrupt && file.endsWith('.gz')) {
      const bytes = fs.readFileSync(file);
      res.writeHead(200, { 'Content-Type': type }).end(bytes.subarray(0, bytes.length >> 1));
      return;
    }
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  server.root = root;
  server.down = false;
  server.dropped = 0;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function chromiumArgs(webgpu) {
  const args = ['--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // window.gc() for the soak's memory samples.
    '--js-flags=--expose-gc'];
  // playwright gives every launch a fresh, empty profile directory (--user-data-dir).
  if (webgpu) args.push('--enable-unsafe-webgpu');
  return args;
}

export function launch(webgpu) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs(webgpu) });
}

/** A browser with a profile in `dir` (a regular profile, not incognito); returns its context. */
export function launchPersistent(webgpu, dir, options = {}) {
  return chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: chromiumArgs(webgpu), ...options });
}

/** Logs the page's console and collects errors and uncaught exceptions. */
export function watch(page, name) {
  const problems = [];
  page.on('console', (m) => {
    console.log(`  [${name} console.${m.type()}] ${m.text()}`);
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
  return problems;
}


/** Draws a stroke on the page's drawing pad through `points` (fractions of its size) with
 * mouse-driven pointer events. */
export async function drawStroke(page, points, steps = 6) {
  // Mouse events land at viewport coordinates, so the pad must be on screen.
  await page.locator('#draw-pad').scrollIntoViewIfNeeded();
  const box = await page.locator('#draw-pad').boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps });
  await page.mouse.up();
}
