// Gives the built page a Content-Security-Policy <meta>, allowing
// exactly Trunk's inline start-up script (by its SHA-256) and wasm compilation, and nothing
// from other origins. Static hosts and blog embeds then get the policy with the page.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Adds the policy to DIR/index.html (run by scripts/post-build.mjs). */
export function addPolicy(dir) {
  const file = path.join(dir, 'index.html');
  let html = fs.readFileSync(file, 'utf8');
  const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  if (inline.length === 0) throw new Error(`no inline script in ${file}: Trunk's start-up script moved; update scripts/csp.mjs`);
  const hashes = inline.map((body) => `'sha256-${crypto.createHash('sha256').update(body, 'utf8').digest('base64')}'`);
  const policy = [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(' ')}`,
    // Leptos sets a few style attributes; no script can come in through them.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const meta = `<meta http-equiv="Content-Security-Policy" content="${policy}" />`;
  if (html.includes('http-equiv="Content-Security-Policy"')) throw new Error(`${file} already has a policy`);
  html = html.replace(/<meta charset="utf-8" \/>/, (m) => `${m}\n    ${meta}`);
  if (!html.includes(meta)) throw new Error(`no <meta charset="utf-8" /> in ${file} to put the policy after`);
  fs.writeFileSync(file, html);
  console.log(`CSP: ${inline.length} inline script(s) allowed by hash`);
}
