// Seeds the fuzz corpora from real files: MNIST's first test images and labels (raw and
// gzipped, as one input per target's layout), a real weight file, real query strings and a
// drawn stroke. Usage: node fuzz/seed.mjs <corpus dir>
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'fuzz/corpus'));
const put = (target, name, bytes) => {
  fs.mkdirSync(path.join(out, target), { recursive: true });
  fs.writeFileSync(path.join(out, target, name), bytes);
};

const mnist = path.join(root, 'public/data/mnist');
const images = zlib.gunzipSync(fs.readFileSync(path.join(mnist, 't10k-images-idx3-ubyte.gz')));
const labels = zlib.gunzipSync(fs.readFileSync(path.join(mnist, 't10k-labels-idx1-ubyte.gz')));
for (const n of [1, 3]) {
  const imgs = Buffer.from(images.subarray(0, 16 + n * 784));
  imgs.writeUInt32BE(n, 4);
  const labs = Buffer.from(labels.subarray(0, 8 + n));
  labs.writeUInt32BE(n, 4);
  // The first byte places the cut between the two files (see the targets).
  for (const [kind, a, b] of [['raw', imgs, labs], ['gz', zlib.gzipSync(imgs), zlib.gzipSync(labs)]]) {
    const total = a.length + b.length;
    const cut = Math.round((a.length * 255) / total);
    const parity = kind === 'gz' ? cut | 1 : cut & ~1;
    put('idx', `mnist-${n}-${kind}`, Buffer.concat([Buffer.from([parity]), a, b]));
    put('own_files', `mnist-${n}-${kind}`, Buffer.concat([Buffer.from([cut]), a, b]));
  }
}
// Weights: byte edits to the target's own valid file (see fuzz_targets/weights.rs): none, one
// in the header, one in the data, and a cut.
put('weights', 'no-edit', Buffer.alloc(0));
put('weights', 'header-edit', Buffer.from([40, 0, 0x7b]));
put('weights', 'data-edit', Buffer.from([0x00, 0x06, 0xff, 0x10, 0x06, 0x80]));
put('weights', 'cut', Buffer.from([128]));
for (const [i, q] of ['?limit=256&batch=32&epochs=1&test_limit=64&autostart&nocache', '?embed&lesson=grad',
  '?preset=tutorial&backend=burn-cpu', '?lr=1e-3&seed=7&eval_train&dataset=fashion-mnist', '?bench=20&backend=all'].entries()) {
  put('settings', `query-${i}`, Buffer.from(q));
}
// A vertical stroke on a 16-wide pad, as little-endian f32 ink.
const width = 16;
const ink = new Float32Array(width * 20);
for (let y = 3; y < 17; y++) ink[y * width + 8] = 1;
put('drawing', 'stroke', Buffer.concat([Buffer.from([width - 1]), Buffer.from(ink.buffer)]));
console.log(`seeded ${out}`);
