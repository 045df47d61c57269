// The README's screenshots of the inspection panels and of embed mode (not a test).
// Usage: node tests/e2e/screenshots.mjs [dist] [weights.safetensors] [outdir]
// The weights come from the desktop binary, e.g.
//   cargo run --release -p desktop -- train --backend burn-cpu --save /tmp/w.safetensors
import path from 'node:path';
import { serve, launch, drawStroke } from './harness.mjs';

const dist = path.resolve(process.argv[2] ?? 'dist');
const weights = path.resolve(process.argv[3] ?? '/tmp/w.safetensors');
const out = path.resolve(process.argv[4] ?? 'docs');

// A hand-drawn-looking 3.
const THREE = [[0.3, 0.2], [0.5, 0.13], [0.66, 0.22], [0.62, 0.38], [0.45, 0.47], [0.64, 0.56], [0.68, 0.72], [0.52, 0.85], [0.3, 0.8]];

const server = await serve(dist);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await launch(true);
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(`${base}/?test_limit=1000`);
  await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 180_000 });
  await page.setInputFiles('#upload-weights', weights);
  await page.waitForFunction(() => /Loaded/.test(document.querySelector('#weights-msg')?.innerText ?? ''), null, { timeout: 600_000 });
  await drawStroke(page, THREE, 8);
  await page.waitForFunction(() => /drawing/.test(document.querySelector('#activations').innerText), null, { timeout: 60_000 });
  await page.waitForTimeout(500);
  for (const [id, file] of [['#draw-section', 'draw.png'], ['#gallery-section', 'gallery.png'], ['#confusion-section', 'confusion.png'], ['#inside-section', 'inside.png']]) {
    await page.locator(id).screenshot({ path: path.join(out, file) });
    console.log(`wrote ${path.join(out, file)}`);
  }
  const embed = await browser.newPage({ viewport: { width: 640, height: 480 } });
  await embed.goto(`${base}/?embed&backend=burn-cpu&limit=3072&batch=64&epochs=2&test_limit=500`);
  await embed.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 180_000 });
  await embed.click('#train');
  await embed.waitForFunction(() => document.querySelector('#status').dataset.phase === 'finished', null, { timeout: 600_000, polling: 500 });
  await drawStroke(embed, THREE, 8);
  await embed.waitForSelector('#prob-bars .bar', { timeout: 60_000 });
  await embed.waitForTimeout(500);
  await embed.screenshot({ path: path.join(out, 'embed.png') });
  console.log(`wrote ${path.join(out, 'embed.png')}`);
} finally {
  await browser.close();
  server.close();
}
