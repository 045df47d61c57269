// Browser benchmark: loads dist/ with `?bench=N` in Debian's headless Chromium with WebGPU
// on SwiftShader, and prints the page's result (images/s, adapter, startup times with the
// data cached) as one JSON line.
// Usage: node tests/e2e/bench.mjs [dist] [steps] [backend: wgsl | burn-cpu | all]
import path from 'node:path';
import { serve, launch } from './harness.mjs';

const dist = path.resolve(process.argv[2] ?? 'dist');
const steps = Number(process.argv[3] ?? 10);
const backend = process.argv[4] ?? 'wgsl';
const server = await serve(dist);
const browser = await launch(true);
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`uncaught: ${e.message}`));
  const base = `http://127.0.0.1:${server.address().port}`;
  // A first visit fills the page's data cache, so the startup figures are with the data cached.
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 300_000, polling: 500 });
  await page.goto(`${base}/?bench=${steps}&backend=${backend}`);
  await page.waitForFunction(() => document.title.startsWith('BENCH '), null, { timeout: 1_800_000, polling: 1000 });
  const json = (await page.title()).slice('BENCH '.length);
  console.log(json);
  if (JSON.parse(json).error) process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
