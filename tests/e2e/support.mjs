// Shared by the e2e case files: the artifacts folder, a page under the CSP watch, the
// desktop binary, the check tally, and pixel counts on canvases.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, launchPersistent, watch } from './harness.mjs';

export const artifacts = path.resolve(process.argv[3] ?? 'target/e2e');
fs.mkdirSync(artifacts, { recursive: true });

/** Every failed check, across all cases. */
export const failures = [];
/** How many checks passed (a case that adds none to this or to failures fails). */
export const tally = { passed: 0 };

/** Opens a page in a fresh browser, runs `body(page, problems)`, and always closes the browser. */
/** `pageOptions.userDataDir` gives the browser a profile on disk (not incognito), emptied first. */
export async function withPage(webgpu, name, body, pageOptions = {}) {
  const { userDataDir, ...options } = pageOptions;
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  const browser = userDataDir ? await launchPersistent(webgpu, userDataDir, options) : await launch(webgpu);
  try {
    // A context of its own, which axe-core needs to open its own page in.
    const page = userDataDir ? browser.pages()[0] ?? await browser.newPage() : await (await browser.newContext(options)).newPage();
    // Confirmations (before a run is replaced) are accepted unless a case sets
    // page.dialogAnswer = false; page.dialogs lists what was asked.
    page.dialogs = [];
    page.dialogAnswer = true;
    page.on('dialog', (d) => { page.dialogs.push(d.message()); (page.dialogAnswer ? d.accept() : d.dismiss()).catch(() => {}); });
    // Every case runs under the page's Content-Security-Policy: any violation fails it.
    const violations = [];
    await page.exposeFunction('__reportCsp', (v) => violations.push(v));
    await page.addInitScript(() => document.addEventListener('securitypolicyviolation',
      (e) => window.__reportCsp(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`)));
    await body(page, watch(page, name));
    if (violations.length) failures.push(`${name}: Content-Security-Policy violations: ${violations.join('; ')}`);
  } finally {
    await browser.close();
  }
}

/** Runs the desktop binary (DESKTOP_BIN) and returns its standard output. */
export function desktop(args, options = {}) {
  const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
  return execFileSync(process.env.DESKTOP_BIN, args, { env, ...options })?.toString() ?? '';
}

export function check(failures, ok, what) {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (ok) tally.passed++; else failures.push(what);
}

/** Number of non-white pixels on a canvas. */
export function inkOf(page, selector) {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    if (!c || !c.width) return 0;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250)) n++;
    return n;
  }, selector);
}

export async function confusionCounts(page) {
  return page.evaluate(() => {
    const c = document.querySelector('#confusion');
    return { total: Number(c.dataset.total), correct: Number(c.dataset.correct) };
  });
}

/** The model's input for the last stroke: the pad shows it as 255 - pixel. */
export function padInput(page) {
  return page.evaluate(() => {
    const c = document.querySelector('canvas.pad-input');
    return [...c.getContext('2d').getImageData(0, 0, 28, 28).data].filter((_, i) => i % 4 === 0).map((v) => 255 - v);
  });
}

/** A stroke's probabilities in the page against `desktop predict` (the f64 reference) on the same input and weights. */
export function checkStroke(failures, where, weightsFile, pixels, probs) {
  const idx = path.join(artifacts, `stroke-${where}.idx`);
  const header = Buffer.alloc(16);
  [2051, 1, 28, 28].forEach((v, i) => header.writeUInt32BE(v, 4 * i));
  fs.writeFileSync(idx, Buffer.concat([header, Buffer.from(pixels)]));
  const line = JSON.parse(desktop(['predict', '--weights', weightsFile, '--images', idx, '--json']));
  const worst = Math.max(...line.probabilities.map((p, c) => Math.abs(p - probs[c])));
  check(failures, probs.length === 10 && pixels.some((p) => p > 0) && worst < 1e-3,
    `the stroke's 10 probabilities (${where}) match the f64 reference within 1e-3 (worst ${worst.toExponential(2)}; reference reads ${line.predicted})`);
}

export async function probabilities(page) {
  await page.waitForSelector('#prob-bars .bar', { timeout: 60_000 });
  return page.evaluate(() => [...document.querySelectorAll('#prob-bars .bar')].map((b) => Number(b.dataset.prob)));
}

/**
 * A stroke's probabilities and the model input they were computed for, read together once
 * they have stopped changing for a second: while drawing, the pad also reads partial strokes.
 */
export async function settledStroke(page) {
  await page.waitForSelector('#prob-bars .bar', { timeout: 60_000 });
  const read = async () => ({ probs: await probabilities(page), pixels: await padInput(page) });
  let last = await read();
  for (let i = 0; i < 60; i++) {
    await page.waitForTimeout(1000);
    const now = await read();
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  return last;
}

/**
 * Downloads the page's weights and checks them with `desktop verify`: every tensor against
 * the f64 reference trained on the same batches from the same seed, relative to its update.
 * `run` is the run's settings as desktop flags.
 */
export async function verifyTraining(page, failures, name, run) {
  const bin = process.env.DESKTOP_BIN;
  if (!bin || !fs.existsSync(bin)) {
    check(failures, false, `DESKTOP_BIN names the desktop binary (${bin})`);
    return;
  }
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-weights')]);
  const file = path.join(artifacts, `${name}.safetensors`);
  await download.saveAs(file);
  let out = '';
  let ok = true;
  try {
    out = desktop(['verify', '--weights', file, ...run], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    ok = false;
    out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  fs.writeFileSync(path.join(artifacts, `${name}-verify.md`), out);
  const verdict = /verified: [^\n]*/.exec(out)?.[0] ?? out.split('\n').filter((l) => /NO|error/.test(l)).join(' / ');
  check(failures, ok && /verified: every tensor within 2e-3/.test(out), `every tensor trained in the page matches the f64 reference on the same batches (${verdict})`);
}
