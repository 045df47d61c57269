// End-to-end tests of the built page (dist/) in Debian's headless Chromium, driven by
// playwright-core. Never downloads a browser. Usage: node tests/e2e/run.mjs [dist] [artifacts]
//
// 1. WebGPU on (SwiftShader): a small run trains, pauses and resumes; the loss falls, the
//    progress bar moves, the charts have pixels, and nothing is logged as an error.
// 2. WebGPU off (no flag): the page explains why and trains on the CPU instead (burn's CPU
//    backend in a Web Worker, from its own bundle); the loss goes down and the page stays
//    responsive while the worker trains.
// 2b. WebGPU on, backend burn-wgpu: burn trains on WebGPU in its own worker bundle.
// 3. A reload reads the data from the Cache API instead of downloading it again, and an
//    invalid setting is refused with a reason.
// 4. Corrupt data files: the error names the file and the problem, and offers Retry.
// 5. A lost GPU device (injected with ?lose_device_after=N) stops training with a message,
//    keeps the charts and offers Retry.
import fs from 'node:fs';
import path from 'node:path';
import { serve, launch, watch } from './harness.mjs';

const dist = path.resolve(process.argv[2] ?? 'dist');
const artifacts = path.resolve(process.argv[3] ?? 'target/e2e');
fs.mkdirSync(artifacts, { recursive: true });

/** Opens a page in a fresh browser, runs `body(page, problems)`, and always closes the browser. */
async function withPage(webgpu, name, body, pageOptions = {}) {
  const browser = await launch(webgpu);
  try {
    const page = await browser.newPage(pageOptions);
    await body(page, watch(page, name));
  } finally {
    await browser.close();
  }
}

let passed = 0;
function check(failures, ok, what) {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (ok) passed++; else failures.push(what);
}

async function trainsWithWebGpu(base, failures) {
  console.log('case: trains with WebGPU (SwiftShader)');
  await withPage(true, 'webgpu', async (page, problems) => {
    const workerRequests = [];
    page.on('request', (r) => { if (r.url().includes('cpu_worker')) workerRequests.push(r.url()); });
    await page.goto(`${base}/?limit=256&batch=32&epochs=1&test_limit=64&autostart&nocache`);
    // Pause after two steps: submissions stop; Resume carries on to the end.
    await page.waitForFunction(() => window.__train && window.__train.submitted >= 2, null, { timeout: 240_000, polling: 200 });
    await page.click('#pause');
    await page.waitForFunction(() => document.querySelector('#status').dataset.phase === 'paused', null, { timeout: 60_000 });
    const pausedAt = await page.evaluate(() => document.querySelector('#train-progress').value);
    await page.waitForTimeout(3000);
    const stillAt = await page.evaluate(() => document.querySelector('#train-progress').value);
    check(failures, pausedAt === stillAt && pausedAt < 8, `Pause stops training (step ${pausedAt}, then ${stillAt})`);
    check(failures, (await page.locator('#train').innerText()) === 'Resume', 'the Train button offers Resume');
    await page.click('#train');
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
    check(failures, workerRequests.length === 0, `the CPU (burn) bundle is not loaded on the WebGPU path (${workerRequests.join(', ')})`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
    await page.screenshot({ path: path.join(artifacts, 'training.png'), fullPage: true });
    console.log(`  screenshot: ${path.join(artifacts, 'training.png')}`);
  }, { viewport: { width: 1200, height: 1000 } });
}

async function trainsOnTheCpuWithoutWebGpu(base, failures) {
  console.log('case: WebGPU unavailable: CPU fallback');
  await withPage(false, 'no-webgpu', async (page, problems) => {
    const workerBundles = [];
    page.on('request', (r) => { if (r.url().includes('cpu_worker')) workerBundles.push(r.url()); });
    await page.goto(`${base}/?limit=128&batch=16&epochs=1&test_limit=64&autostart&nocache`);
    const notice = page.locator('#webgpu-missing');
    const shown = await notice.waitFor({ timeout: 60_000 }).then(() => true, () => false);
    check(failures, shown, 'the explanation is shown');
    if (shown) {
      const text = await notice.innerText();
      console.log(`  message: ${text}`);
      check(failures, /CPU/.test(text) && /slower/.test(text), 'it says training runs on the CPU, and is slower');
    }
    check(failures, await page.locator('#backend').inputValue() === 'burn-cpu', 'the CPU backend is selected');
    await page.waitForFunction(() => window.__train && window.__train.submitted >= 2, null, { timeout: 240_000, polling: 200 });
    // The main thread stays free while the worker trains: a timer fires on time.
    const lag = await page.evaluate(() => new Promise((done) => { const t = performance.now(); setTimeout(() => done(performance.now() - t - 50), 50); }));
    check(failures, lag < 250, `the page stays responsive during CPU training (timer late by ${lag.toFixed(0)} ms)`);
    await page.waitForFunction(() => window.__train && window.__train.epochs >= 1, null, { timeout: 300_000, polling: 500 })
      .catch(async (e) => { await page.screenshot({ path: path.join(artifacts, 'cpu-timeout.png') }); throw e; });
    const report = await page.evaluate(() => window.__train);
    console.log('  report:', JSON.stringify(report));
    check(failures, report.steps === 8, `every step reported its metrics (${report.steps})`);
    check(failures, report.lastLoss < report.firstLoss, `loss went down on the CPU (${report.firstLoss} -> ${report.lastLoss})`);
    check(failures, workerBundles.some((u) => u.endsWith('.wasm')), `the worker bundle was fetched (${workerBundles.length} requests)`);
    check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
    await page.screenshot({ path: path.join(artifacts, 'no-webgpu.png'), fullPage: true });
  }, { viewport: { width: 1200, height: 1000 } });
}

async function trainsWithBurnWgpu(base, failures) {
  console.log('case: burn-wgpu backend (WebGPU in a Web Worker)');
  await withPage(true, 'burn-wgpu', async (page, problems) => {
    const bundles = [];
    page.on('request', (r) => { if (/(cpu|gpu)_worker/.test(r.url())) bundles.push(path.basename(new URL(r.url()).pathname)); });
    await page.goto(`${base}/?backend=burn-wgpu&limit=128&batch=16&epochs=1&test_limit=64&autostart&nocache`);
    await page.waitForFunction(() => window.__train && window.__train.epochs >= 1, null, { timeout: 300_000, polling: 500 })
      .catch(async (e) => { await page.screenshot({ path: path.join(artifacts, 'burn-wgpu-timeout.png') }); throw e; });
    const report = await page.evaluate(() => window.__train);
    console.log('  report:', JSON.stringify(report));
    check(failures, report.steps === 8 && report.lastLoss < report.firstLoss, `8 steps, loss went down (${report.firstLoss} -> ${report.lastLoss})`);
    check(failures, bundles.includes('gpu_worker_bg.wasm') && !bundles.some((b) => b.startsWith('cpu_worker')), `only the burn-wgpu bundle was fetched (${bundles})`);
    check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
  });
}

async function cachesTheData(base, failures) {
  console.log('case: a reload reads the data from the browser cache');
  await withPage(true, 'cache', async (page, problems) => {
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 120_000 });
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 120_000 });
    const note = await page.locator('#status .notice').innerText();
    check(failures, note.includes('from the browser cache'), `the second load came from the cache (${note})`);
    // An impossible setting is refused with a reason, and nothing starts.
    await page.fill('#lr', 'abc');
    await page.click('#train');
    const formError = await page.locator('#form-error').innerText().catch(() => '');
    check(failures, formError.includes('learning rate'), `an invalid learning rate is explained (${formError})`);
    check(failures, await page.evaluate(() => document.querySelector('#status').dataset.phase) === 'ready', 'training did not start');
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  });
}

async function reportsCorruptData(base, failures) {
  console.log('case: corrupt data is reported with the file name and a retry');
  await withPage(true, 'corrupt', async (page, problems) => {
    await page.goto(`${base}/corrupt/?nocache`);
    const error = page.locator('#error');
    const shown = await error.waitFor({ timeout: 120_000 }).then(() => true, () => false);
    const text = shown ? await error.innerText() : '';
    check(failures, shown && text.includes('train-images-idx3-ubyte') && text.includes('gzip'), `the error names the file and the problem (${text})`);
    check(failures, await page.locator('#retry').count() === 1, 'a Retry button is offered');
    check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
  });
}

async function survivesDeviceLoss(base, failures) {
  console.log('case: a lost GPU device stops training cleanly and keeps the charts');
  await withPage(true, 'device-loss', async (page, problems) => {
    await page.goto(`${base}/?limit=256&batch=32&epochs=1&test_limit=64&autostart&nocache&lose_device_after=5`);
    const error = page.locator('#error');
    const shown = await error.waitFor({ timeout: 240_000 }).then(() => true, () => false);
    const text = shown ? await error.innerText() : '';
    check(failures, shown && /lost|GPU/i.test(text), `the page says training stopped (${text})`);
    const steps = await page.evaluate(() => window.__train?.steps ?? 0);
    check(failures, steps >= 4, `the charts keep the steps done before the loss (${steps})`);
    check(failures, await page.locator('#retry').count() === 1, 'Retry is offered');
    check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
    await page.screenshot({ path: path.join(artifacts, 'device-lost.png'), fullPage: true });
  });
}

const server = await serve(dist);
const base = `http://127.0.0.1:${server.address().port}`;
const failures = [];
try {
  await trainsWithWebGpu(base, failures);
  await trainsOnTheCpuWithoutWebGpu(base, failures);
  await trainsWithBurnWgpu(base, failures);
  await cachesTheData(base, failures);
  await reportsCorruptData(base, failures);
  await survivesDeviceLoss(base, failures);
} catch (e) {
  failures.push(`error: ${e.message}`);
  console.log(`  FAIL ${e.stack}`);
} finally {
  server.close();
}
console.log(`\ne2e: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
