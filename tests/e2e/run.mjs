// End-to-end tests of the built page (dist/) in Debian's headless Chromium, driven by
// playwright-core. Never downloads a browser. Usage: node tests/e2e/run.mjs [dist] [artifacts]
//
// 1. WebGPU on (SwiftShader): a small run trains; the loss falls, the progress bar moves,
//    the charts have pixels, and nothing is logged as an error.
// 2. WebGPU off (no flag): the page explains why it cannot train, with no uncaught error.
// 3. A reload reads the data from the Cache API instead of downloading it again.
// 4. Corrupt data files: the error names the file and the problem, and offers Retry.
import fs from 'node:fs';
import path from 'node:path';
import { serve, launch, watch } from './harness.mjs';

const dist = path.resolve(process.argv[2] ?? 'dist');
const artifacts = path.resolve(process.argv[3] ?? 'target/e2e');
fs.mkdirSync(artifacts, { recursive: true });

let passed = 0;
function check(failures, ok, what) {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (ok) passed++; else failures.push(what);
}

async function trainsWithWebGpu(base, failures) {
  console.log('case: trains with WebGPU (SwiftShader)');
  const browser = await launch(true);
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const problems = watch(page, 'webgpu');
    await page.goto(`${base}/?limit=256&batch=32&epochs=1&test_limit=64&autostart&nocache`);
    await page.waitForFunction(() => window.__train && window.__train.steps >= 8 && window.__train.epochs >= 1, null, { timeout: 240_000, polling: 500 })
      .catch(async (e) => { await page.screenshot({ path: path.join(artifacts, 'webgpu-timeout.png') }); throw e; });
    await page.waitForTimeout(500); // let the last chart redraw land
    const report = await page.evaluate(() => window.__train);
    console.log('  report:', JSON.stringify(report));
    check(failures, report.lastLoss < report.firstLoss, `loss went down (${report.firstLoss} -> ${report.lastLoss})`);
    const progress = await page.evaluate(() => document.querySelector('#train-progress').value);
    check(failures, progress > 0, `the progress bar moved (value ${progress})`);
    const inked = await page.evaluate(() => ['#loss-chart', '#accuracy-chart'].map((sel) => {
      const c = document.querySelector(sel);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250)) n++;
      return n;
    }));
    check(failures, inked.every((n) => n > 500), `both chart canvases have drawn pixels (${inked})`);
    const rows = await page.locator('#epoch-table tbody tr').count();
    check(failures, rows === 1, `the epoch table has a row (${rows})`);
    const adapter = await page.locator('#adapter').innerText();
    check(failures, adapter.length > 0, `the adapter is shown (${adapter})`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
    await page.screenshot({ path: path.join(artifacts, 'training.png'), fullPage: true });
    console.log(`  screenshot: ${path.join(artifacts, 'training.png')}`);
  } finally {
    await browser.close();
  }
}

async function explainsMissingWebGpu(base, failures) {
  console.log('case: WebGPU unavailable');
  const browser = await launch(false);
  try {
    const page = await browser.newPage();
    const problems = watch(page, 'no-webgpu');
    await page.goto(`${base}/`);
    const notice = page.locator('#webgpu-missing');
    const shown = await notice.waitFor({ timeout: 60_000 }).then(() => true, () => false);
    check(failures, shown, 'the explanation is shown');
    if (shown) console.log(`  message: ${await notice.innerText()}`);
    check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
    await page.screenshot({ path: path.join(artifacts, 'no-webgpu.png'), fullPage: true });
  } finally {
    await browser.close();
  }
}

async function cachesTheData(base, failures) {
  console.log('case: a reload reads the data from the browser cache');
  const browser = await launch(true);
  try {
    const page = await browser.newPage();
    const problems = watch(page, 'cache');
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 120_000 });
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 120_000 });
    const note = await page.locator('#status .notice').innerText();
    check(failures, note.includes('from the browser cache'), `the second load came from the cache (${note})`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  } finally {
    await browser.close();
  }
}

async function reportsCorruptData(base, failures) {
  console.log('case: corrupt data is reported with the file name and a retry');
  const browser = await launch(true);
  try {
    const page = await browser.newPage();
    const problems = watch(page, 'corrupt');
    await page.goto(`${base}/corrupt/?nocache`);
    const error = page.locator('#error');
    const shown = await error.waitFor({ timeout: 120_000 }).then(() => true, () => false);
    const text = shown ? await error.innerText() : '';
    check(failures, shown && text.includes('train-images-idx3-ubyte') && text.includes('gzip'), `the error names the file and the problem (${text})`);
    check(failures, await page.locator('#retry').count() === 1, 'a Retry button is offered');
    check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
  } finally {
    await browser.close();
  }
}

const server = await serve(dist);
const base = `http://127.0.0.1:${server.address().port}`;
const failures = [];
try {
  await trainsWithWebGpu(base, failures);
  await explainsMissingWebGpu(base, failures);
  await cachesTheData(base, failures);
  await reportsCorruptData(base, failures);
} catch (e) {
  failures.push(`error: ${e.message}`);
  console.log(`  FAIL ${e.stack}`);
} finally {
  server.close();
}
console.log(`\ne2e: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
