// The embed API (issue 18): examples/embed-host.html, served from another origin (another
// port on 127.0.0.1), drives the demo in its iframe through postMessage. Commands are
// answered, bad ones with the reason; every step and epoch arrives as an event equal to the
// demo's own figures; a page at an origin the demo was not told of is ignored; an invalid
// ?host= turns the API off with a message; a failure arrives as an error event.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './harness.mjs';
import { check, withPage } from './support.mjs';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const RUN = { limit: 128, batch: 16, epochs: 1, test_limit: 64, backend: 'wgsl' };

/** Opens the example host page with the demo at `base` and waits for the demo's hello. */
async function openHost(page, host, base, extra = {}) {
  const query = new URLSearchParams({ demo: `${base}/`, settings: 'nocache', ...extra });
  await page.goto(`${host}/embed-host.html?${query}`);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  return frame;
}

/** Sends a command from the host page and returns the demo's ack. */
async function command(page, type, fields = {}) {
  const id = await page.evaluate(([t, f]) => window.sendToDemo(t, f), [type, fields]);
  const ack = await page.waitForFunction((id) => window.demoEvents.find((e) => e.type === 'ack' && e.id === id), id, { timeout: 30_000 });
  return ack.jsonValue();
}

const waitForEvent = (page, predicate, timeout = 240_000) =>
  page.waitForFunction(`window.demoEvents.some(${predicate})`, null, { timeout, polling: 200 });

export async function embedApi(base, failures) {
  console.log('case: the embed API, driven by the example host page on another origin');
  const hostServer = await serve(EXAMPLES);
  const strangerServer = await serve(EXAMPLES);
  const host = `http://127.0.0.1:${hostServer.address().port}`;
  const stranger = `http://127.0.0.1:${strangerServer.address().port}`;
  try {
    await withPage(true, 'embed-api', async (page, problems) => {
      const frame = await openHost(page, host, base);
      await waitForEvent(page, "(e) => e.type === 'hello' && e.version === 1", 60_000);
      await waitForEvent(page, "(e) => e.type === 'phase' && e.phase === 'ready'", 180_000);
      let ack = await command(page, 'settings', { settings: { batch: 0 } });
      check(failures, !ack.ok && /batch/.test(ack.error), `invalid settings are refused with the reason (${ack.error})`);
      ack = await command(page, 'launch');
      check(failures, !ack.ok && /unknown command/.test(ack.error), `an unknown command is refused (${ack.error})`);
      ack = await command(page, 'pause');
      check(failures, !ack.ok && /nothing is training/.test(ack.error), `Pause with nothing training is refused (${ack.error})`);
      ack = await command(page, 'settings', { settings: RUN });
      check(failures, ack.ok, `the host's settings are taken (${JSON.stringify(ack)})`);

      // Train, pause after two steps, resume, finish.
      ack = await command(page, 'train');
      check(failures, ack.ok, 'Train is taken');
      await waitForEvent(page, "(e) => e.type === 'step' && e.step >= 2");
      ack = await command(page, 'pause');
      check(failures, ack.ok, `Pause is taken during training (${JSON.stringify(ack)})`);
      await waitForEvent(page, "(e) => e.type === 'phase' && e.phase === 'paused'", 60_000);
      const pausedAt = await frame.evaluate(() => window.__train.submitted);
      ack = await command(page, 'train');
      await waitForEvent(page, "(e) => e.type === 'phase' && e.phase === 'finished'", 300_000);
      const events = await page.evaluate(() => window.demoEvents);
      const report = await frame.evaluate(() => window.__train);
      const steps = events.filter((e) => e.type === 'step');
      const epochs = events.filter((e) => e.type === 'epoch');
      const phases = events.filter((e) => e.type === 'phase').map((e) => e.phase);
      check(failures, ack.ok && pausedAt < 8 && phases.join(' ').includes('training paused training') && phases.at(-1) === 'finished',
        `Pause and Train resume mid-run (paused at step ${pausedAt}; phases ${phases.join(', ')})`);
      check(failures, report.steps === 8 && JSON.stringify(steps.map((s) => [s.step, s.epoch])) === JSON.stringify([1, 2, 3, 4, 5, 6, 7, 8].map((s) => [s, 1])),
        `one step event per step, in order, for the host's settings (${steps.length} events; the demo trained ${report.steps} steps)`);
      check(failures, steps[0]?.loss === report.firstLoss && steps.at(-1)?.loss === report.lastLoss,
        `the step events carry the demo's own losses (${steps[0]?.loss} = ${report.firstLoss}, ${steps.at(-1)?.loss} = ${report.lastLoss})`);
      const mean = (key) => steps.reduce((a, s) => a + s[key], 0) / steps.length;
      const rel = (a, b) => Math.abs(a - b) / Math.abs(b);
      const e = epochs[0] ?? {};
      check(failures, epochs.length === 1 && e.epoch === 1 && rel(e.train_loss, mean('loss')) < 1e-5 && rel(e.train_accuracy, mean('accuracy')) < 1e-5
        && e.test_accuracy > 0 && e.test_accuracy <= 1 && Number.isFinite(e.test_loss),
        `one epoch event, whose training figures are the means of its steps (${JSON.stringify(e)})`);
      ack = await command(page, 'reset');
      await waitForEvent(page, "(e) => e.type === 'phase' && e.phase === 'ready'", 30_000);
      const afterReset = await frame.evaluate(() => document.querySelector('#status').dataset.phase);
      check(failures, ack.ok && afterReset === 'ready', `Reset is taken without a question (${afterReset}; dialogs ${page.dialogs.length})`);
      check(failures, page.dialogs.length === 0, 'no command asked the user a question');

      // A page at an origin the demo was not told of: its commands are ignored and it hears nothing.
      const other = await page.context().newPage();
      const otherFrame = await openHost(other, stranger, base, { host });
      await otherFrame.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 180_000 });
      await other.evaluate(() => window.sendToDemo('train'));
      await other.waitForTimeout(3000);
      const heard = await other.evaluate(() => window.demoEvents.length);
      const otherPhase = await otherFrame.evaluate(() => document.querySelector('#status').dataset.phase);
      check(failures, heard === 0 && otherPhase === 'ready', `a page at another origin is not obeyed and hears nothing (${heard} events; phase ${otherPhase})`);

      // An invalid ?host= turns the API off and says why.
      const bad = await page.context().newPage();
      await bad.goto(`${base}/?embed&nocache&host=${encodeURIComponent('https://blog.example/post')}`);
      const msg = await bad.locator('#embed-api-error').innerText({ timeout: 30_000 }).catch(() => '');
      check(failures, /embed API is off/.test(msg) && /blog\.example\/post/.test(msg), `an invalid host origin is refused with the reason (${msg})`);

      // A failure reaches the host as an error event (a lost device, injected in test builds).
      const failing = await page.context().newPage();
      await openHost(failing, host, base, { settings: 'nocache&lose_device_after=2' });
      await waitForEvent(failing, "(e) => e.type === 'phase' && e.phase === 'ready'", 180_000);
      await command(failing, 'settings', { settings: RUN });
      await command(failing, 'train');
      await waitForEvent(failing, "(e) => e.type === 'error'", 240_000);
      const error = await failing.evaluate(() => window.demoEvents.find((e) => e.type === 'error'));
      const failedPhase = await failing.evaluate(() => window.demoEvents.filter((e) => e.type === 'phase').at(-1).phase);
      check(failures, /device/i.test(error.message) && failedPhase === 'failed', `a lost device arrives as an error event (${error.message}; phase ${failedPhase})`);
      check(failures, !problems.some((p) => p.startsWith('uncaught')), `no uncaught exception ${problems.join('; ')}`);
    });
  } finally {
    hostServer.close();
    strangerServer.close();
  }
}
