// Nothing lost (issue 16): the page keeps its run in the browser (OPFS). A run of two
// epochs paused mid-epoch, reloaded and resumed, and the same run continued from a
// downloaded checkpoint in a fresh browser, both end bit-identical to the run trained
// straight through: every tensor (weights, BatchNorm statistics, Adam's moments) and the
// charts' history. So does a run that lost its GPU device and pressed Retry. Discard forgets the kept run, a dismissed confirmation changes nothing,
// and a browser that refuses storage still trains and says so.
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, check, confusionCounts, withPage } from './support.mjs';

const RUN = 'backend=wgsl&limit=256&batch=32&epochs=2&test_limit=32&nocache';
const PAUSE_AT = 11; // mid-epoch 2 (8 steps per epoch)

/** A .safetensors file's tensors (name -> bytes) and metadata. */
function readSafetensors(file) {
  const bytes = fs.readFileSync(file);
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString());
  const data = bytes.subarray(8 + len);
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name !== '__metadata__') tensors[name] = data.subarray(t.data_offsets[0], t.data_offsets[1]);
  }
  return { tensors, meta: header.__metadata__ ?? {} };
}

/** Differences between two checkpoints, bit for bit; empty when identical. */
function differences(a, b) {
  const x = readSafetensors(a), y = readSafetensors(b);
  const out = [];
  const names = new Set([...Object.keys(x.tensors), ...Object.keys(y.tensors)]);
  for (const n of names) {
    if (!x.tensors[n] || !y.tensors[n] || !x.tensors[n].equals(y.tensors[n])) out.push(`tensor ${n}`);
  }
  for (const key of new Set([...Object.keys(x.meta), ...Object.keys(y.meta)])) {
    const same = key === 'note.page.run'
      ? JSON.stringify(JSON.parse(x.meta[key] ?? 'null')) === JSON.stringify(JSON.parse(y.meta[key] ?? 'null'))
      : x.meta[key] === y.meta[key];
    if (!same) out.push(`metadata ${key}`);
  }
  return out;
}

async function download(page, name) {
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click('#download-weights')]);
  const file = path.join(artifacts, name);
  await d.saveAs(file);
  return file;
}

const phase = (page, name, timeout = 300_000) =>
  page.waitForFunction((p) => document.querySelector('#status')?.dataset.phase === p, name, { timeout, polling: 200 });

export async function keepsTheRun(base, failures) {
  console.log('case: the run survives a reload and a download, bit for bit (OPFS checkpoints)');
  let straight, paused;
  await withPage(true, 'kept-straight', async (page) => {
    await page.goto(`${base}/?${RUN}&autostart`);
    await phase(page, 'finished');
    straight = await download(page, 'kept-straight.safetensors');
    const kept = await page.locator('#kept-msg').innerText();
    check(failures, /Kept in this browser at epoch 2 of 2, step 16/.test(kept), `every epoch's end is kept in the browser (${kept})`);
  }, { acceptDownloads: true });

  await withPage(true, 'kept-reload', async (page, problems) => {
    await page.goto(`${base}/?${RUN}&autostart&pause_after=${PAUSE_AT}`);
    await phase(page, 'paused');
    await page.waitForFunction((n) => window.__train?.keptSteps === n, PAUSE_AT, { timeout: 60_000 });
    paused = await download(page, 'kept-paused.safetensors');
    // A new visit (no autostart): the page offers the kept run.
    await page.goto(`${base}/?nocache`);
    await page.waitForSelector('#resume-kept', { timeout: 180_000 });
    const offer = await page.locator('#kept-offer').innerText();
    check(failures, offer.includes(`Resume your run (epoch 2 of 2, step ${PAUSE_AT}, on MNIST)`), `the next visit offers the run (${offer})`);
    // A dismissed confirmation changes nothing.
    page.dialogAnswer = false;
    await page.click('#discard-kept');
    check(failures, await page.locator('#resume-kept').count() === 1 && page.dialogs.at(-1)?.includes('Discard the kept run'),
      `Discard asks first, and "Cancel" keeps the offer (${page.dialogs.at(-1)})`);
    page.dialogAnswer = true;
    await page.click('#resume-kept');
    await phase(page, 'finished');
    const resumed = await download(page, 'kept-resumed.safetensors');
    const diff = differences(straight, resumed);
    check(failures, diff.length === 0, `paused at step ${PAUSE_AT}, reloaded and resumed = trained straight, bit for bit (differs: ${diff.join(', ') || 'nothing'})`);
    const report = await page.evaluate(() => window.__train);
    check(failures, report.steps === 16 && report.epochs === 2, `the charts hold all 16 steps and 2 epochs (${report.steps}, ${report.epochs})`);
    // Reset asks first; Cancel keeps the run.
    page.dialogAnswer = false;
    await page.click('#reset');
    check(failures, (await page.evaluate(() => window.__train.steps)) === 16 && /Reset\?/.test(page.dialogs.at(-1)),
      `Reset asks first, and "Cancel" keeps the run (${page.dialogs.at(-1)})`);
    page.dialogAnswer = true;
    // Discard forgets the kept run: the next visit offers nothing.
    await page.goto(`${base}/?nocache`);
    await page.waitForSelector('#discard-kept', { timeout: 180_000 });
    await page.click('#discard-kept');
    await page.waitForFunction(() => !document.querySelector('#kept-offer'), null, { timeout: 30_000 });
    await page.goto(`${base}/?nocache`);
    await phase(page, 'ready', 180_000);
    await page.waitForTimeout(1000); // the offer follows the data within a few ms
    check(failures, await page.locator('#kept-offer').count() === 0, 'after Discard the next visit offers nothing');
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  }, { acceptDownloads: true });

  await withPage(true, 'kept-file', async (page) => {
    // A fresh browser: the downloaded mid-epoch checkpoint continues exactly too.
    await page.goto(`${base}/?nocache`);
    await phase(page, 'ready', 180_000);
    await page.setInputFiles('#upload-weights', paused);
    await page.waitForFunction(() => /Resume trains on exactly/.test(document.querySelector('#weights-msg')?.innerText ?? ''), null, { timeout: 180_000 });
    const report = await page.evaluate(() => window.__train);
    check(failures, report.steps === PAUSE_AT && report.phase === 'paused', `loading the checkpoint restores its ${PAUSE_AT} charted steps, paused (${report.steps}, ${report.phase})`);
    await page.click('#train');
    await phase(page, 'finished');
    const continued = await download(page, 'kept-continued.safetensors');
    const diff = differences(straight, continued);
    check(failures, diff.length === 0, `downloaded at step ${PAUSE_AT}, loaded in a fresh browser and resumed = trained straight, bit for bit (differs: ${diff.join(', ') || 'nothing'})`);
  }, { acceptDownloads: true });

  await withPage(true, 'kept-old', async (page, problems) => {
    // A run kept by an earlier version, whose epochs left out their last images (its state
    // says 260 training images in 8 steps of 32; epochs now take 9), cannot continue. Its
    // weights can still be loaded, and they give what the same weights give restored.
    const bytes = fs.readFileSync(straight);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString());
    header.__metadata__['resume.train_images'] = '260';
    const edited = Buffer.from(JSON.stringify(header).padEnd(headerLen, ' '));
    const old = Buffer.concat([bytes.subarray(0, 8), edited, bytes.subarray(8 + headerLen)]);
    await page.goto(`${base}/?nocache`);
    await phase(page, 'ready', 180_000);
    await page.evaluate(async (data) => {
      const dir = await navigator.storage.getDirectory();
      const writable = await (await dir.getFileHandle('current-run.safetensors', { create: true })).createWritable();
      await writable.write(new Uint8Array(data));
      await writable.close();
    }, [...old]);
    // The run's own 32 test images, so that both evaluations see the same ones.
    await page.goto(`${base}/?nocache&test_limit=32`);
    await page.waitForSelector('#load-kept-weights', { timeout: 180_000 });
    const offer = await page.locator('#kept-offer').innerText();
    check(failures, edited.length === headerLen && await page.locator('#resume-kept').count() === 0
      && offer.includes('cannot be resumed: the checkpoint was saved by an earlier version, whose epochs left out their last 4 images (8 steps of 32 an epoch)')
      && offer.includes('Its weights are intact'),
      `a run kept by the earlier schedule is offered as weights, not as a run (${offer})`);
    await page.click('#load-kept-weights');
    await page.waitForFunction(() => /Loaded the kept run/.test(document.querySelector('#weights-msg')?.innerText ?? ''), null, { timeout: 180_000 });
    const loaded = await page.locator('#weights-msg').innerText();
    const fromWeights = await confusionCounts(page);
    await page.setInputFiles('#upload-weights', straight);
    await page.waitForFunction(() => /Resume trains on exactly/.test(document.querySelector('#weights-msg')?.innerText ?? ''), null, { timeout: 180_000 });
    const restored = await confusionCounts(page);
    check(failures, /Only its weights were loaded, not its run/.test(loaded) && fromWeights.total === 32 && restored.total === 32 && fromWeights.correct === restored.correct,
      `its weights load and get ${fromWeights.correct}/32 test images right, as the same run restored does (${restored.correct}/32): ${loaded}`);
    check(failures, problems.length === 0, `no console error or uncaught exception ${problems.join('; ')}`);
  });

  await withPage(true, 'kept-retry', async (page) => {
    // A lost GPU device after epoch 1's checkpoint: Retry takes a new device and continues
    // from that checkpoint, exactly.
    await page.goto(`${base}/?${RUN}&autostart&lose_device_after=12`);
    await page.waitForSelector('#retry', { timeout: 300_000 });
    await page.click('#retry');
    await phase(page, 'finished');
    const kept = await page.locator('#kept-msg').innerText();
    const retried = await download(page, 'kept-retried.safetensors');
    const diff = differences(straight, retried);
    check(failures, diff.length === 0 && /Resumed your run at epoch 2 of 2, step 8|Kept in this browser at epoch 2 of 2, step 16/.test(kept),
      `after a lost device, Retry continues from epoch 1's checkpoint and ends as trained straight, bit for bit (differs: ${diff.join(', ') || 'nothing'}; ${kept})`);
  }, { acceptDownloads: true });

  await withPage(true, 'kept-retry-own', async (page, problems) => {
    // The same on your own idx files (MNIST's test pair): Retry keeps them loaded and
    // continues from epoch 1's checkpoint on them.
    const mnist = path.join(path.resolve(process.argv[2] ?? 'target/e2e-dist'), 'data', 'mnist');
    await page.goto(`${base}/?backend=wgsl&limit=64&batch=16&epochs=2&test_limit=32&nocache&lose_device_after=6`);
    await phase(page, 'ready');
    await page.selectOption('#dataset', 'own');
    await page.setInputFiles('#own-images', path.join(mnist, 't10k-images-idx3-ubyte.gz'));
    await page.setInputFiles('#own-labels', path.join(mnist, 't10k-labels-idx1-ubyte.gz'));
    await page.click('#use-own');
    await page.waitForFunction(() => /Your files: 8334 training/.test(document.querySelector('#status').innerText), null, { timeout: 120_000 });
    await page.click('#train');
    await page.waitForSelector('#retry', { timeout: 300_000 });
    await page.click('#retry');
    // Epoch 1's checkpoint (step 4) is resumed; its message stays until the next checkpoint,
    // epoch 2's end, 4 steps later.
    const resumed = await page.waitForFunction(() => /Resumed your run at epoch 2 of 2, step 4\b/.test(document.querySelector('#kept-msg')?.innerText ?? ''),
      null, { timeout: 300_000, polling: 20 }).then(() => true, () => false);
    await phase(page, 'finished');
    const after = await page.evaluate(() => ({
      status: document.querySelector('#status').innerText,
      dataset: document.querySelector('#dataset').value,
      kept: document.querySelector('#kept-msg')?.innerText ?? '',
      steps: window.__train?.steps,
    }));
    check(failures, resumed && /Your files: 8334 training/.test(after.status) && after.dataset === 'own' && after.steps === 8
      && /Kept in this browser at epoch 2 of 2, step 8/.test(after.kept),
      `after a lost device on your own files, Retry keeps them and continues from epoch 1's checkpoint (${JSON.stringify(after)})`);
    check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
  });

  await withPage(true, 'kept-hidden', async (page, problems) => {
    // A tab hidden mid-epoch (visibilitychange), and a page being left (pagehide): each
    // keeps the run at the step it reached, not only at epochs' ends.
    // One epoch of 32 steps, so both keeps land well before its end.
    await page.goto(`${base}/?backend=wgsl&limit=1024&batch=32&epochs=1&test_limit=32&nocache&autostart`);
    // The step of the latest mid-epoch keep ("… at epoch 1 of 1, step N (…"), or 0.
    const midEpochStep = () => page.evaluate(() => Number(/Kept in this browser at epoch 1 of 1, step (\d+) /.exec(document.querySelector('#kept-msg')?.innerText ?? '')?.[1] ?? 0));
    const keptAfter = async (event, before) => {
      const from = await page.evaluate(() => window.__train?.steps ?? 0);
      await page.evaluate((kind) => {
        if (kind === 'pagehide') {
          window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false }));
        } else {
          Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
          document.dispatchEvent(new Event('visibilitychange'));
          delete document.visibilityState;
        }
      }, event);
      await page.waitForFunction((b) => {
        const m = /Kept in this browser at epoch 1 of 1, step (\d+) /.exec(document.querySelector('#kept-msg')?.innerText ?? '');
        return m && Number(m[1]) > b;
      }, before, { timeout: 60_000, polling: 20 }).catch(() => {});
      return [from, await midEpochStep(), await page.locator('#kept-msg').innerText().catch(() => '')];
    };
    await page.waitForFunction(() => (window.__train?.steps ?? 0) >= 1, null, { timeout: 120_000, polling: 20 });
    const [hiddenFrom, hiddenStep, hidden] = await keptAfter('visibilitychange', 0);
    check(failures, hiddenStep >= 1 && hiddenStep < 32, `a tab hidden at step ${hiddenFrom} keeps the run mid-epoch (${hidden})`);
    const [leftFrom, leftStep, left] = await keptAfter('pagehide', hiddenStep);
    check(failures, leftStep > hiddenStep && leftStep < 32, `leaving the page (pagehide) at step ${leftFrom} keeps the run again, later (${left})`);
    await phase(page, 'finished');
    check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
  });

  await withPage(true, 'kept-no-storage', async (page) => {
    // A browser that refuses the page storage (like some private windows): training goes on.
    await page.addInitScript(() => {
      StorageManager.prototype.getDirectory = () => Promise.reject(new DOMException('storage is off', 'SecurityError'));
    });
    await page.goto(`${base}/?${RUN}&epochs=1&autostart`);
    await phase(page, 'finished');
    const msg = await page.locator('#kept-msg').innerText();
    check(failures, /could not be kept in the browser: this browser does not allow the page to store files/.test(msg) && /Training goes on/.test(msg),
      `without storage the run finishes and the page says why nothing is kept (${msg})`);
  });
}
