// Issue 6's browser comparison, side by side in one headless Chromium on SwiftShader:
// ours (dist/ with ?bench=N) and the peers (TensorFlow.js and jax-js on each of their
// backends, tests/peers/index.html), the same network, batch 128, N timed steps each.
// Needs `npm ci` in tests/peers once (the peers are not part of the test suite).
// Usage: node tests/peers/bench.mjs [dist] [steps] [peers, e.g. tfjs:webgl,jax-js:webgpu]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, launch } from '../e2e/harness.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.resolve(process.argv[2] ?? 'dist');
const steps = Number(process.argv[3] ?? 10);
const peers = (process.argv[4] ?? 'jax-js:webgpu,tfjs:webgl,tfjs:cpu,tfjs:webgpu,jax-js:wasm').split(',');
const ours = await serve(dist);
const root = await serve(repo);
const browser = await launch(true);
const results = [];
async function titled(url, prefix) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`uncaught: ${e.message}`));
  try {
    await page.goto(url);
    await page.waitForFunction((p) => document.title.startsWith(p), prefix, { timeout: 1_800_000, polling: 1000 });
    return JSON.parse((await page.title()).slice(prefix.length));
  } finally {
    await page.close();
  }
}
try {
  const base = `http://127.0.0.1:${ours.address().port}`;
  const r = await titled(`${base}/?bench=${steps}`, 'BENCH ');
  console.log(JSON.stringify(r));
  results.push({ name: 'ours (wgsl, WebGPU)', ...r });
  for (const peer of peers) {
    const [system, backend] = peer.split(':');
    const p = await titled(`http://127.0.0.1:${root.address().port}/tests/peers/?system=${system}&backend=${backend}&steps=${steps}`, 'PEER ');
    console.log(JSON.stringify(p));
    results.push({ name: `${system} (${backend})`, ...p });
  }
} finally {
  await browser.close();
  ours.close();
  root.close();
}
const best = Math.max(...results.slice(1).filter((r) => !r.error).map((r) => r.images_per_s));
console.log(`\nside by side, batch 128, ${steps} timed steps each, one headless Chromium:`);
for (const r of results) {
  const speed = r.error ? `error: ${r.error.split('\n')[0]}` : `${r.images_per_s.toFixed(1).padStart(8)} images/s`;
  console.log(`  ${r.name.padEnd(22)} ${speed}`);
}
if (Number.isFinite(best)) console.log(`  ours / best peer: ${(results[0].images_per_s / best).toFixed(2)}x`);
