// The Auto backend, the page's default: our kernels on a hardware GPU, burn's CPU backend in a
// Web Worker on a software adapter (SwiftShader here) or without WebGPU. The page says what
// it picked and why; ?backend=wgsl overrides it (checked in run.mjs's WebGPU case).
import { check, withPage } from './support.mjs';

export async function autoBackend(base, failures) {
  console.log('case: the Auto backend on SwiftShader picks the CPU worker and says why');
  await withPage(true, 'auto-backend', async (page, problems) => {
    const workers = [];
    page.on('worker', (w) => workers.push(w.url()));
    await page.goto(`${base}/?limit=64&batch=16&epochs=1&test_limit=32&autostart&nocache`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 300_000, polling: 500 });
    const report = await page.evaluate(() => window.__train);
    const note = await page.locator('#backend-auto').innerText();
    const selected = await page.locator('#backend').inputValue();
    const label = await page.locator('#backend option[value="auto"]').innerText();
    console.log(`  ${selected} (${label}): ${note}`);
    check(failures, selected === 'auto' && label === 'Auto (burn-cpu)', `Auto is the default and shows its pick (${selected}, ${label})`);
    check(failures, note.startsWith('Auto trains with burn on the CPU, in a Web Worker:') && note.includes('is a software renderer'),
      `the page says Auto picked the CPU worker because the adapter is a software renderer (${note})`);
    check(failures, report.backend === 'burn-cpu' && report.steps === 4 && workers.some((u) => /cpu_worker/.test(u)),
      `the run trained on burn's CPU backend in a Web Worker (${report.backend}, ${report.steps} steps, workers ${workers})`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  });
}
