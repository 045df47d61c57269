// The tutorial's first half in the page: the lessons (jit, grad, vmap), one embedded, the
// Tutorial settings, and a run that draws the tutorial's figure.
import path from 'node:path';
import { artifacts, check, inkOf, withPage } from './support.mjs';

/** Every row of the lesson table named `name`, as arrays of cell texts. */
function lessonRows(page, name) {
  return page.$$eval(`table[data-lesson-table="${name}"] tbody tr`, (rows) => rows.map((r) => [...r.cells].map((c) => c.innerText.trim())));
}

/** Presses a lesson's button and waits for its outcome ("done" or "failed", with the text). */
async function runLesson(page, button) {
  await page.click(button);
  const result = page.locator(`${button} + .lesson-result`);
  await page.waitForFunction((sel) => ['done', 'failed'].includes(document.querySelector(sel)?.dataset.state), `${button} + .lesson-result`, { timeout: 300_000, polling: 250 });
  return [await result.getAttribute('data-state'), await result.innerText()];
}

const finite = (cells) => cells.every((c) => c !== '' && Number.isFinite(Number(c)));

export async function lessons(base, failures) {
  console.log('case: the lessons (jit, grad, vmap) and the tutorial settings');
  await withPage(true, 'lessons', async (page, problems) => {
    await page.goto(`${base}/?lesson=jit&nocache`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 180_000 });
    check(failures, await page.locator('#lesson-jit').getAttribute('open') !== null && await page.locator('#lesson-grad').getAttribute('open') === null,
      '?lesson=jit opens the jit lesson (and only it)');
    check(failures, /fn main/.test(await page.locator('#lesson-jit .source code').first().textContent()), 'the jit lesson shows its WGSL');
    let [state, text] = await runLesson(page, '#run-jit');
    const jit = await lessonRows(page, 'SELU, eager and compiled');
    console.log(`  jit: ${state} ${JSON.stringify(jit)}`);
    check(failures, state === 'done' && jit.length === 2, `jit ran (${state}: ${text.slice(0, 200)})`);
    check(failures, jit.length === 2 && jit.every((r) => finite(r.slice(1, 6)) && r[6] === 'yes') && jit[0][1] === '6' && jit[1][1] === '1',
      'jit: 6 dispatches against 1, every time finite, both equal the CPU within 1e-6');
    await page.locator('#lesson-jit').screenshot({ path: path.join(artifacts, 'lesson-jit.png') });

    await page.click('#lesson-grad > summary');
    await page.fill('#grad-expr', 'x^2');
    await page.fill('#grad-at', '2');
    [state] = await runLesson(page, '#run-grad');
    const grad = await lessonRows(page, 'Derivatives');
    check(failures, state === 'done' && JSON.stringify(grad[0]?.slice(2)) === JSON.stringify(['4', '4', '2', '0']), `x^2 at 2 gives f = 4, then 4, 2, 0 (${JSON.stringify(grad)})`);
    check(failures, await inkOf(page, '#grad-chart') > 2000, 'the derivatives are plotted');
    await page.fill('#grad-expr', 'sin(x) * x^3');
    await page.fill('#grad-at', '0.5');
    [state] = await runLesson(page, '#run-grad');
    const sinRow = (await lessonRows(page, 'Derivatives'))[0]?.slice(2).map(Number) ?? [];
    const x = 0.5, s = Math.sin(x), c = Math.cos(x);
    const expected = [s * x ** 3, c * x ** 3 + 3 * s * x ** 2, -s * x ** 3 + 6 * c * x ** 2 + 6 * s * x, -c * x ** 3 - 9 * s * x ** 2 + 18 * c * x + 6 * s];
    check(failures, sinRow.length === 4 && sinRow.every((v, i) => Math.abs(v - expected[i]) < 1e-12), `sin(x)·x³ at 0.5 matches the closed form (${sinRow} vs ${expected})`);
    await page.fill('#grad-expr', 'x + * 2');
    [state, text] = await runLesson(page, '#run-grad');
    check(failures, state === 'failed' && /at character 5/.test(text) && text.includes('x + * 2\n    ^'), `a parse error points at its character (${JSON.stringify(text)})`);
    await page.fill('#grad-expr', 'x^2');
    await runLesson(page, '#run-grad');
    [state, text] = await runLesson(page, '#run-net-grad');
    const net = await lessonRows(page, "The network's gradient");
    console.log(`  network gradient: ${state} ${JSON.stringify(net)}`);
    check(failures, state === 'done' && net.length === 6 && net.every((r) => finite(r.slice(1)) && Number(r[3]) < 1e-3),
      `the network's WGSL gradient equals the f64 finite differences within 1e-3 at 6 parameters (${text.slice(0, 200)})`);
    await page.locator('#lesson-grad').screenshot({ path: path.join(artifacts, 'lesson-grad.png') });

    await page.click('#lesson-vmap > summary');
    [state, text] = await runLesson(page, '#run-vmap');
    const matvec = await lessonRows(page, 'A 150x100 matrix on 10 vectors');
    const network = await lessonRows(page, 'The network on 128 test images');
    console.log(`  vmap: ${state} ${JSON.stringify(matvec)} ${JSON.stringify(network)}`);
    check(failures, state === 'done' && matvec.length === 2 && matvec.every((r) => finite(r.slice(1, 5)) && r[5] === 'yes') && matvec[0][1] === '10' && matvec[1][1] === '1',
      `vmap: 10 matrix-vector submissions and 1 batched give the same products (${text.slice(0, 200)})`);
    check(failures, network.length === 2 && network.every((r) => finite(r.slice(1, 5)) && r[5] === 'yes') && network[0][1] === '128',
      'vmap: 128 images one at a time and one batch of 128 give the same log-probabilities (1e-5)');
    await page.locator('#lesson-vmap').screenshot({ path: path.join(artifacts, 'lesson-vmap.png') });

    await page.click('#tutorial-preset');
    const form = await page.evaluate(() => ['#epochs', '#batch', '#lr', '#seed', '#limit'].map((id) => document.querySelector(id).value).concat(document.querySelector('#eval-train').checked));
    check(failures, JSON.stringify(form) === JSON.stringify(['10', '128', '0.001', '0', '', true]), `Tutorial settings fill the form (${form})`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  }, { viewport: { width: 1200, height: 1000 } });

  await withPage(true, 'lesson-embed', async (page, problems) => {
    await page.goto(`${base}/?embed&lesson=grad&nocache`);
    await page.waitForSelector('#run-grad', { timeout: 60_000 });
    check(failures, await page.locator('#lesson-jit').count() === 0 && await page.locator('#train').count() === 0, '?embed&lesson=grad shows only that lesson');
    const [state] = await runLesson(page, '#run-grad');
    const grad = await lessonRows(page, 'Derivatives');
    check(failures, state === 'done' && JSON.stringify(grad[0]?.slice(2)) === JSON.stringify(['4', '4', '2', '0']), 'the embedded lesson differentiates x^2');
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(failures, width <= 640, `it fits 640 px without sideways scrolling (${width})`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
    await page.screenshot({ path: path.join(artifacts, 'lesson-embed.png') });
  }, { viewport: { width: 640, height: 480 } });

  // The tutorial's per-epoch numbers: the whole training set evaluated after each epoch.
  await withPage(true, 'eval-train', async (page, problems) => {
    await page.goto(`${base}/?backend=wgsl&limit=96&batch=32&epochs=2&test_limit=64&eval_train&autostart&nocache`);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 300_000, polling: 500 });
    const full = await page.$$eval('#epoch-table tbody tr', (rows) => rows.map((r) => [r.querySelector('.full-train-loss')?.innerText, r.querySelector('.full-train-acc')?.innerText]));
    check(failures, full.length === 2 && full.every(([l, a]) => Number.isFinite(Number(l)) && /^\d+\.\d\d%$/.test(a ?? '')),
      `each epoch row has the full training-set loss and accuracy (${JSON.stringify(full)})`);
    const figure = await page.evaluate(() => ({ ...document.querySelector('#tutorial-chart').dataset }));
    check(failures, figure.epochs === '2' && figure.training === 'full' && await inkOf(page, '#tutorial-chart') > 2000,
      `the tutorial's figure plots 2 epochs with the full training-set numbers (${JSON.stringify(figure)})`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
    await page.locator('.tutorial-figure').screenshot({ path: path.join(artifacts, 'tutorial-figure.png') });
  }, { viewport: { width: 1200, height: 1000 } });
}
