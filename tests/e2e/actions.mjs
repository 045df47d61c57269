// Defined results for actions that overlap a run (issue 16): a double click on Train starts
// one run; during training the dataset choice and Reset are unavailable and a weight file
// is refused while the run goes on; Reset stays unavailable through the epoch's
// evaluation, which completes; none of it asks a question or loses a step.
import { check, withPage } from './support.mjs';

export async function overlappingActions(base, failures) {
  console.log('case: actions during a run have defined results');
  await withPage(true, 'actions', async (page, problems) => {
    // 64 steps: long enough on SwiftShader for the checks below to land during training.
    await page.goto(`${base}/?backend=wgsl&limit=2048&batch=32&epochs=1&test_limit=1024&nocache`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 180_000 });
    await page.dblclick('#train');
    await page.waitForFunction(() => window.__train?.submitted >= 1, null, { timeout: 120_000, polling: 100 });
    const state = await page.evaluate(() => ({
      phase: document.querySelector('#status').dataset.phase,
      dataset: document.querySelector('#dataset').disabled,
      reset: document.querySelector('#reset').disabled,
      train: document.querySelector('#train').disabled,
    }));
    check(failures, state.phase === 'training' && state.dataset && state.reset && state.train,
      `during training, Train, Reset and the dataset choice are unavailable (${JSON.stringify(state)})`);
    await page.setInputFiles('#upload-weights', { name: 'during.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('x') });
    await page.waitForFunction(() => /during\.safetensors/.test(document.querySelector('#weights-msg')?.innerText ?? ''), null, { timeout: 60_000 });
    const refused = await page.locator('#weights-msg').innerText();
    const during = await page.evaluate(() => document.querySelector('#status').dataset.phase);
    check(failures, /Pause training before loading during\.safetensors/.test(refused) && during === 'training',
      `a weight file loaded during training is refused and the run goes on (${refused}; ${during})`);
    // Reset during the epoch's evaluation (1,024 test images, a few seconds on SwiftShader):
    // it is unavailable, a click on it does nothing, and the evaluation completes.
    await page.waitForFunction(() => /evaluating on the test set/.test(document.querySelector('#progress-text')?.innerText ?? ''), null, { timeout: 600_000, polling: 20 });
    const whileEvaluating = await page.evaluate(() => {
      const reset = document.querySelector('#reset');
      const disabled = reset.disabled;
      reset.click();
      return { disabled, phase: document.querySelector('#status').dataset.phase };
    });
    check(failures, whileEvaluating.disabled && whileEvaluating.phase === 'training',
      `during the epoch's evaluation Reset is unavailable (${JSON.stringify(whileEvaluating)})`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 600_000, polling: 500 });
    const evaluated = await page.evaluate(() => {
      const rows = [...document.querySelectorAll('#epoch-table tbody tr')];
      return [rows.length, rows[0]?.lastElementChild?.innerText ?? ''];
    });
    check(failures, evaluated[0] === 1 && /^\d+\.\d\d%$/.test(evaluated[1]),
      `the evaluation Reset was pressed during completes: one epoch row and the test accuracy (${evaluated})`);
    const report = await page.evaluate(() => window.__train);
    check(failures, report.steps === 64 && report.submitted === 64 && report.epochs === 1,
      `the double click trained one run of 64 steps and 1 epoch (${report.steps} charted, ${report.submitted} submitted, ${report.epochs} epochs)`);
    check(failures, page.dialogs.length === 0, `nothing asked a question (${page.dialogs.join('; ')})`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  });
}
