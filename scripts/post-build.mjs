// Trunk's post_build hook, one script so that the steps run in order: the page's
// Content-Security-Policy first, then the service worker, whose version hashes the final files.
import { addPolicy } from './csp.mjs';
import { writeServiceWorker } from './offline.mjs';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) throw new Error('scripts/post-build.mjs runs as a Trunk post_build hook (TRUNK_STAGING_DIR is not set)');
addPolicy(dir);
console.log(`service worker ${writeServiceWorker(dir)}`);
