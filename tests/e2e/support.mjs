// Shared by the e2e case files: the artifacts folder, a page under the CSP watch, the
// desktop binary, the check tally, and pixel counts on canvases.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, watch } from './harness.mjs';

export const artifacts = path.resolve(process.argv[3] ?? 'target/e2e');
fs.mkdirSync(artifacts, { recursive: true });

/** Every failed check, across all cases. */
export const failures = [];
/** How many checks passed (a case that adds none to this or to failures fails). */
export const tally = { passed: 0 };

/** Opens a page in a fresh browser, runs `body(page, problems)`, and always closes the browser. */
export async function withPage(webgpu, name, body, pageOptions = {}) {
  const browser = await launch(webgpu);
  try {
    const page = await browser.newPage(pageOptions);
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
