// Every screen, dark mode and keyboard use (issue 18).
// fitsEveryScreen: at 390x844 (phone, touch), 820x1180 (tablet, touch) and 1280x800 the page
//   never scrolls sideways, the charts are drawn at the width they are shown, the pad draws
//   with touch, and on the wide screen Train brings the progress, both charts and the pad
//   with its bars into one screen. Screenshots of each go to the artifacts.
// accessible: in the light and the dark colour scheme, axe-core finds no serious or critical
//   violation on the trained page with every section open; every control is reached with
//   Tab and shows its focus; the pad draws from the keyboard; a test image opens with Enter;
//   the charts' text alternative gives the run's own latest values; dark mode is dark.
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { drawStroke } from './harness.mjs';
import { artifacts, check, withPage } from './support.mjs';

const RUN = '?backend=wgsl&limit=128&batch=16&epochs=1&test_limit=64&nocache';
const ready = (page) => page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'ready', null, { timeout: 180_000 });
const finished = (page) => page.waitForFunction(() => document.querySelector('#status')?.dataset.phase === 'finished', null, { timeout: 300_000, polling: 500 });

/** The alpha of the pad's pixel at (fx, fy), fractions of its size. */
const padAlpha = (page, fx, fy) => page.evaluate(([fx, fy]) => {
  const c = document.querySelector('#draw-pad');
  return c.getContext('2d').getImageData(Math.round(fx * c.width), Math.round(fy * c.height), 1, 1).data[3];
}, [fx, fy]);

/** A stroke from (x0, y0) to (x1, y1) (fractions of the pad) with touch events. */
async function touchStroke(page, [x0, y0], [x1, y1]) {
  await page.locator('#draw-pad').scrollIntoViewIfNeeded();
  const box = await page.locator('#draw-pad').boundingBox();
  const at = (fx, fy) => ({ x: box.x + fx * box.width, y: box.y + fy * box.height });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at(x0, y0)] });
  for (let i = 1; i <= 8; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [at(x0 + (x1 - x0) * i / 8, y0 + (y1 - y0) * i / 8)] });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
}

const SCREENS = [
  { name: 'phone', width: 390, height: 844, touch: true },
  { name: 'tablet', width: 820, height: 1180, touch: true },
  { name: 'desktop', width: 1280, height: 800, touch: false },
];

export async function fitsEveryScreen(base, failures) {
  for (const screen of SCREENS) {
    console.log(`case: the page at ${screen.width}x${screen.height} (${screen.name})`);
    await withPage(true, `layout-${screen.name}`, async (page, problems) => {
      await page.goto(`${base}/${RUN}`);
      await ready(page);
      const wide = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        offenders: [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
          .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`),
      }));
      check(failures, wide.scroll <= screen.width, `${screen.name}: no sideways scrolling (content ${wide.scroll} px wide on a ${screen.width} px screen; ${wide.offenders.join(' ')})`);
      const charts = await page.evaluate(() => ['#loss-chart', '#accuracy-chart'].map((s) => {
        const c = document.querySelector(s);
        const r = c.getBoundingClientRect();
        return { drawn: c.width, shown: c.clientWidth, top: Math.round(r.top), right: r.right };
      }));
      check(failures, charts.every((c) => c.drawn === c.shown && c.right <= screen.width && c.drawn >= 160),
        `${screen.name}: the charts are drawn at the width they are shown, inside the screen (${JSON.stringify(charts)})`);
      if (screen.touch) {
        await touchStroke(page, [0.5, 0.2], [0.5, 0.8]);
        await page.waitForSelector('#prob-bars .bar', { timeout: 60_000 });
        const [on, off] = [await padAlpha(page, 0.5, 0.5), await padAlpha(page, 0.15, 0.15)];
        check(failures, on === 255 && off === 0 && await page.locator('#prob-bars .bar').count() === 10,
          `${screen.name}: a touch stroke draws on the pad and the model reads it (ink ${on} on the stroke, ${off} beside it)`);
        await page.screenshot({ path: path.join(artifacts, `layout-${screen.name}.png`) });
      } else {
        check(failures, charts[0].top === charts[1].top && charts[0].drawn > 300, `${screen.name}: the two charts sit side by side (${charts.map((c) => c.drawn)} px wide)`);
        // A stroke first, so the bars are out, then Train from the top of the page.
        await drawStroke(page, [[0.5, 0.2], [0.5, 0.8]]);
        await page.waitForSelector('#prob-bars .bar', { timeout: 60_000 });
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.click('#train');
        await finished(page);
        const boxes = await page.evaluate(() => ['#train-progress', '#loss-chart', '#accuracy-chart', '#draw-pad', '#prob-bars'].map((s) => {
          const e = document.querySelector(s);
          const r = e.getBoundingClientRect();
          return [s, Math.round(r.top), Math.round(r.bottom), e.checkVisibility({ visibilityProperty: true, opacityProperty: true })];
        }));
        const charts2 = await page.evaluate(() => ['#loss-chart', '#accuracy-chart'].map((s) => document.querySelector(s).getBoundingClientRect().top));
        check(failures, charts2[0] === charts2[1], `${screen.name}: the charts stay side by side after training (tops ${charts2})`);
        // Shown, at least 16 px tall, and inside the screen: a hidden or collapsed element is not on screen.
        check(failures, boxes.every(([, top, bottom, shown]) => shown && bottom - top >= 16 && top >= 0 && bottom <= screen.height),
          `${screen.name}: after Train, the progress, both charts and the pad with its bars are on one screen (${JSON.stringify(boxes)})`);
        await page.screenshot({ path: path.join(artifacts, `layout-${screen.name}.png`) });
      }
      check(failures, problems.length === 0, `${screen.name}: no console error or uncaught exception ${problems.join('; ')}`);
    }, { viewport: { width: screen.width, height: screen.height }, hasTouch: screen.touch, isMobile: screen.touch });
  }
}

/** Presses Tab until focus comes back round; returns the selectors of what was focused. */
async function tabThrough(page, limit) {
  await page.evaluate(() => document.activeElement?.blur());
  const seen = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const info = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      const style = getComputedStyle(e);
      return { key: e.dataset.tabKey, outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
    });
    if (info) seen.push(info);
  }
  return seen;
}

export async function accessible(base, failures) {
  for (const scheme of ['light', 'dark']) {
    console.log(`case: accessibility in the ${scheme} colour scheme`);
    await withPage(true, `a11y-${scheme}`, async (page, problems) => {
      await page.goto(`${base}/${RUN}`);
      await ready(page);
      const look = await page.evaluate(() => ({ bg: getComputedStyle(document.body).backgroundColor, filter: getComputedStyle(document.querySelector('#loss-chart')).filter }));
      const dark = look.bg === 'rgb(20, 23, 28)' && look.filter.startsWith('invert');
      const light = look.bg === 'rgb(255, 255, 255)' && look.filter === 'none';
      check(failures, scheme === 'dark' ? dark : light, `${scheme}: the page follows the colour scheme, charts and pad included (${JSON.stringify(look)})`);
      await page.click('#train');
      await finished(page);
      const report = await page.evaluate(() => window.__train);
      const summary = await page.locator('#loss-summary').innerText();
      const label = await page.locator('#loss-chart').getAttribute('aria-label');
      check(failures, label === summary && summary.includes(`step 8 of 8, ${report.lastLoss.toFixed(4)} on its batch`) && summary.includes('after epoch 1'),
        `${scheme}: the loss chart's text alternative gives the last step's loss (${summary}; last loss ${report.lastLoss})`);
      check(failures, await page.locator('#epoch-table caption').count() === 1 && await page.locator('#epoch-table tbody tr').count() === 1,
        `${scheme}: the per-epoch values are a table with a caption and a row`);

      // The keyboard: the pad draws, a test image opens, every control is reached with a visible focus.
      await page.focus('#draw-pad');
      await page.keyboard.press('Space');
      for (let i = 0; i < 6; i++) await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Space');
      await page.waitForSelector('#prob-bars .bar', { timeout: 60_000 });
      const [on, off] = [await padAlpha(page, 0.5, 0.65), await padAlpha(page, 0.2, 0.2)];
      check(failures, on === 255 && off === 0, `${scheme}: the arrow keys and Space draw on the pad (ink ${on} on the pen's path, ${off} off it)`);
      const thumb = page.locator('#gallery .thumb').nth(2);
      const index = await thumb.getAttribute('data-index');
      await thumb.focus();
      await page.keyboard.press('Enter');
      const opened = await page.waitForFunction((i) => document.querySelector('#activations').innerText.includes(`test image ${i}`), index, { timeout: 60_000 }).then(() => true, () => false);
      check(failures, opened, `${scheme}: Enter on a test image shows its activations (image ${index})`);
      await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
      const controls = await page.evaluate(() => {
        const all = [...document.querySelectorAll('button, input, select, summary, a[href], [tabindex="0"]')]
          .filter((e) => !e.disabled && e.offsetParent !== null && e.tabIndex >= 0);
        all.forEach((e, i) => { e.dataset.tabKey = String(i); });
        return all.map((e) => e.id || e.tagName.toLowerCase());
      });
      const seen = await tabThrough(page, controls.length + 5);
      const missed = controls.filter((_, i) => !seen.some((s) => s.key === String(i)));
      check(failures, missed.length === 0 && controls.length > 30, `${scheme}: Tab reaches all ${controls.length} controls (missed: ${missed.join(', ')})`);
      const unmarked = seen.filter((s) => s.key !== undefined && !s.outline).map((s) => controls[Number(s.key)]);
      check(failures, unmarked.length === 0, `${scheme}: every focused control shows a focus outline (without: ${unmarked.join(', ')})`);

      const result = await new AxeBuilder({ page }).analyze();
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      check(failures, bad.length === 0, `${scheme}: axe-core finds no serious or critical violation (${bad.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`).join('; ')}; ${result.passes.length} rules passed)`);
      await page.locator('#watch').scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(artifacts, `page-${scheme}.png`) });
      check(failures, problems.length === 0, `${scheme}: no console error or uncaught exception ${problems.join('; ')}`);
    }, { colorScheme: scheme, viewport: { width: 1280, height: 800 } });
  }
}
