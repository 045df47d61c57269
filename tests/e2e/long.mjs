// The long cases: the accuracy floor and the memory soak.
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, check, confusionCounts, withPage } from './support.mjs';

/** The native accuracy floor, in the page: the same run as engine/tests/trainer.rs. */
export async function accuracyFloor(base, failures) {
  console.log('case: accuracy floor (6 epochs of 2,000 images at batch 32, seed 1; 1,000 test images)');
  await withPage(true, 'accuracy', async (page, problems) => {
    await page.goto(`${base}/?backend=wgsl&limit=2000&batch=32&epochs=6&seed=1&test_limit=1000&autostart&nocache`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 1_500_000, polling: 1000 });
    const { total, correct } = await confusionCounts(page);
    const rows = await page.locator('#epoch-table tbody tr').count();
    check(failures, rows === 6 && total === 1000 && correct > 900, `6 epochs give more than 90% on 1,000 held-out test images (${correct}/${total}, ${rows} epoch rows)`);
    // Each epoch is 62 batches of 32 and the short batch of the last 16 images, as natively.
    const report = await page.evaluate(() => window.__train);
    check(failures, report.steps === 378 && report.submitted === 378, `each epoch trains all 2,000 images: 6 x 63 steps (${report.steps} charted, ${report.submitted} submitted)`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  });
}

export async function soak(base, failures) {
  const epochs = Number(process.env.PAGE_SOAK_EPOCHS ?? 5);
  const images = Number(process.env.PAGE_SOAK_IMAGES ?? 256);
  console.log(`case: soak (${epochs} epochs of ${images} images; wasm memory and JS heap after each)`);
  await withPage(true, 'soak', async (page, problems) => {
    await page.addInitScript(() => addEventListener('TrunkApplicationStarted', (e) => { window.__wasmMemory = e.detail.wasm.memory; }));
    await page.goto(`${base}/?backend=wgsl&limit=${images}&batch=32&epochs=${epochs}&test_limit=64&autostart&nocache`);
    const samples = [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      await page.waitForFunction((n) => window.__train && window.__train.epochs >= n, epoch, { timeout: 600_000, polling: 200 });
      samples.push(await page.evaluate(() => {
        window.gc();
        return { wasm: window.__wasmMemory.buffer.byteLength, heap: performance.memory.usedJSHeapSize };
      }));
      console.log(`  epoch ${epoch}: wasm memory ${samples.at(-1).wasm} bytes, JS heap ${(samples.at(-1).heap / 1e6).toFixed(2)} MB`);
    }
    fs.writeFileSync(path.join(artifacts, 'soak.json'), JSON.stringify({ epochs, images, samples }, null, 2));
    const second = samples[1];
    const wasmGrew = samples.slice(2).filter((s) => s.wasm !== second.wasm).length;
    const heapGrew = samples.slice(2).filter((s) => s.heap > second.heap + 1e6).length;
    check(failures, wasmGrew === 0, `wasm memory does not grow after the second epoch (${samples.map((s) => s.wasm)})`);
    // After a forced collection the heap holds the charts' few numbers per step; a leaked
    // batch (a few MB) per epoch would show.
    check(failures, heapGrew === 0, `the JS heap does not grow by 1 MB after the second epoch (${samples.map((s) => (s.heap / 1e6).toFixed(2))} MB)`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  });
}
