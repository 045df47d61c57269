// The kernel self-test in the browser (?selftest): every WGSL kernel on Chromium's WebGPU
// (SwiftShader) against the f64 reference, the same cases as `desktop selftest --list`,
// with every register block, poisoned outputs and batches 1, 3 and 127.
import path from 'node:path';
import { artifacts, check, desktop, withPage } from './support.mjs';

export async function kernelSelfTest(base, failures) {
  console.log('case: kernel self-test in the browser (every kernel against the f64 reference)');
  const expected = desktop(['selftest', '--list']).trim().split('\n');
  await withPage(true, 'selftest', async (page, problems) => {
    await page.goto(`${base}/?selftest`);
    await page.waitForFunction(() => document.title.startsWith('SELFTEST '), null, { timeout: 900_000, polling: 1000 });
    const summary = JSON.parse((await page.title()).slice('SELFTEST '.length));
    const names = summary.reports.map((r) => r.name);
    console.log(`  adapter ${summary.adapter}, block ${summary.block}, ${names.length} cases`);
    check(failures, JSON.stringify(names) === JSON.stringify(expected),
      `the page ran exactly the native plan's ${expected.length} cases (${names.length} ran; missing: ${expected.filter((n) => !names.includes(n)).join(', ') || 'none'})`);
    const failed = summary.reports.filter((r) => !r.checks.length || r.checks.some((c) => c.error === null || !(c.error <= c.tolerance)));
    for (const r of failed) console.log(`  FAIL ${r.name}: ${JSON.stringify(r.checks.filter((c) => !(c.error <= c.tolerance)))}`);
    check(failures, failed.length === 0, `every case matches the f64 reference on the browser's WebGPU (${failed.length} failed: ${failed.map((r) => r.name).join(', ')})`);
    // Every register block ran on every convolution case, whichever the adapter would pick:
    // 6 checks with the reduction dispatch, 4 with Adam summing the partials.
    const conv = summary.reports.filter((r) => r.name.startsWith('conv '));
    const blocks = ['FourByFour', 'EightByEight', 'PixelLanes'];
    check(failures, conv.length === 24 && conv.every((r) => blocks.every((b) => r.checks.filter((c) => c.what.startsWith(b)).length === 10)),
      `each of the ${conv.length} convolution cases ran all three register blocks, the 4x4 blocks of real GPUs included`);
    check(failures, summary.uncovered.length === 0 && summary.passed === true, `every kernel in shaders/ ran (not run: ${summary.uncovered.join(', ') || 'none'})`);
    const rows = await page.locator('#selftest tbody tr[data-passed="true"]').count();
    check(failures, rows === expected.length && await page.locator('#selftest').getAttribute('data-state') === 'passed',
      `the page shows ${rows} passing rows and says so`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
    await page.screenshot({ path: path.join(artifacts, 'selftest.png'), fullPage: true });
  }, { viewport: { width: 1200, height: 1000 } });
}
