// The tutorial CNN (4 SAME stride-2 convolutions, BatchNorm with batch statistics on the
// first three, ReLU, dense 40->10, log-softmax, Adam 1e-3), batch 128, in TensorFlow.js and
// in jax-js. Each step trains on the next 128 MNIST training images (uploaded per step, as
// these libraries are normally fed). 2 warm-up steps, then `steps` timed ones, waiting for
// the device at the end. The result: `PEER {json}` in document.title.
const BATCH = 128;
const params = new URLSearchParams(location.search);
const system = params.get('system');
const backend = params.get('backend');
const steps = Number(params.get('steps') ?? 10);

async function idx(name) {
  const res = await fetch(`/public/data/mnist/${name}.gz`);
  const stream = res.body.pipeThrough(new DecompressionStream('gzip'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  const dims = bytes[3];
  return bytes.subarray(4 + 4 * dims);
}

/** Batch `i` (wrapping around the first `count` images) as float32 NHWC/NCHW-agnostic pixels and one-hot labels. */
function makeBatches(images, labels, count) {
  return (i) => {
    const x = new Float32Array(BATCH * 784);
    const y = new Float32Array(BATCH * 10);
    const yi = new Int32Array(BATCH);
    for (let b = 0; b < BATCH; b++) {
      const n = (i * BATCH + b) % count;
      for (let p = 0; p < 784; p++) x[b * 784 + p] = images[n * 784 + p] / 255;
      y[b * 10 + labels[n]] = 1;
      yi[b] = labels[n];
    }
    return { x, y, yi };
  };
}

async function tfjs(batch) {
  await tf.setBackend(backend);
  await tf.ready();
  const model = tf.sequential();
  const conv = (filters, kernel, extra = {}) => tf.layers.conv2d({ filters, kernelSize: kernel, strides: 2, padding: 'same', ...extra });
  model.add(conv(32, 5, { inputShape: [28, 28, 1] }));
  model.add(tf.layers.batchNormalization({ epsilon: 1e-5 }));
  model.add(tf.layers.reLU());
  model.add(conv(32, 5));
  model.add(tf.layers.batchNormalization({ epsilon: 1e-5 }));
  model.add(tf.layers.reLU());
  model.add(conv(10, 3));
  model.add(tf.layers.batchNormalization({ epsilon: 1e-5 }));
  model.add(tf.layers.reLU());
  model.add(conv(10, 3, { activation: 'relu' }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const step = async (i) => {
    const { x, y } = batch(i);
    const xs = tf.tensor4d(x, [BATCH, 28, 28, 1]);
    const ys = tf.tensor2d(y, [BATCH, 10]);
    const loss = await model.trainOnBatch(xs, ys);
    xs.dispose();
    ys.dispose();
    return loss;
  };
  return { step, finish: async (loss) => loss, version: `tfjs ${tf.version.tfjs}`, adapterBackend: tf.getBackend() };
}

async function jaxjs(batch) {
  const jax = await import('@jax-js/jax');
  const { numpy: np, lax, nn, jit, valueAndGrad, tree, init, defaultDevice, random, blockUntilReady } = jax;
  const available = await init();
  if (!available.includes(backend)) throw new Error(`jax-js has no ${backend} device here (has ${available})`);
  defaultDevice(backend);
  const shapes = [[32, 1, 5], [32, 32, 5], [10, 32, 3], [10, 10, 3]];
  let key = random.key(0);
  const normal = (shape, scale) => {
    const [k1, k2] = random.split(key);
    key = k1;
    return random.normal(k2, shape).mul(scale);
  };
  let p = { convs: [], bns: [], dense: null, denseBias: np.zeros([10]) };
  for (const [o, c, k] of shapes) p.convs.push({ w: normal([o, c, k, k], Math.sqrt(2 / (c * k * k))), b: np.zeros([o]) });
  for (const [o] of shapes.slice(0, 3)) p.bns.push({ g: np.ones([o]), b: np.zeros([o]) });
  p.dense = normal([40, 10], Math.sqrt(1 / 40));

  const chan = (a) => a.reshape([1, -1, 1, 1]);
  function loss(p, x, y) {
    for (let i = 0; i < 4; i++) {
      x = lax.convGeneralDilated(x, p.convs[i].w, [2, 2], 'SAME').add(chan(p.convs[i].b));
      if (i < 3) {
        const mean = np.mean(x.ref, [0, 2, 3], { keepdims: true });
        const centered = x.sub(mean);
        const variance = np.mean(np.square(centered.ref), [0, 2, 3], { keepdims: true });
        x = centered.div(np.sqrt(variance.add(1e-5))).mul(chan(p.bns[i].g)).add(chan(p.bns[i].b));
      }
      x = nn.relu(x);
    }
    const logits = np.dot(x.reshape([BATCH, 40]), p.dense).add(p.denseBias);
    return np.mean(nn.logSoftmax(logits).mul(y)).mul(-10);
  }
  const B1 = 0.9, B2 = 0.999, LR = 1e-3, EPS = 1e-8;
  // Owned arguments (jax-js counts references): each array is used once, or `.ref`'d first.
  const trainStep = jit((p, m, v, bc1, bc2, x, y) => {
    const [l, g] = valueAndGrad(loss)(tree.ref(p), x, y);
    const m2 = tree.map((a, gi) => a.mul(B1).add(gi.mul(1 - B1)), m, tree.ref(g));
    const v2 = tree.map((a, gi) => a.mul(B2).add(np.square(gi).mul(1 - B2)), v, g);
    const p2 = tree.map((w, a, b) => w.sub(a.div(bc1.ref).mul(LR).div(np.sqrt(b.div(bc2.ref)).add(EPS))), p, tree.ref(m2), tree.ref(v2));
    bc1.dispose();
    bc2.dispose();
    return [l, p2, m2, v2];
  });
  let m = tree.map((a) => np.zerosLike(a.ref), p);
  let v = tree.map((a) => np.zerosLike(a.ref), p);
  let t = 0;
  const step = async (i) => {
    const { x, y } = batch(i);
    t += 1;
    const xs = np.array(x).reshape([BATCH, 1, 28, 28]);
    const ys = np.array(y).reshape([BATCH, 10]);
    const [l, p2, m2, v2] = trainStep(p, m, v, np.array(1 - B1 ** t), np.array(1 - B2 ** t), xs, ys);
    [p, m, v] = [p2, m2, v2];
    return l;
  };
  return { step, finish: async (l) => (await l.data())[0], version: 'jax-js 0.1.25', adapterBackend: backend };
}

async function main() {
  const images = await idx('train-images-idx3-ubyte');
  const labels = await idx('train-labels-idx1-ubyte');
  const batch = makeBatches(images, labels, 60000);
  const t0 = performance.now();
  const peer = system === 'tfjs' ? await tfjs(batch) : await jaxjs(batch);
  let loss = await peer.step(0);
  const firstLoss = await peer.finish(loss);
  loss = await peer.step(1);
  await peer.finish(loss);
  const firstStepsMs = performance.now() - t0;
  const started = performance.now();
  for (let i = 0; i < steps; i++) {
    const l = await peer.step(2 + i);
    if (i < steps - 1 && typeof l?.dispose === 'function') l.dispose();
    loss = l;
  }
  const lastLoss = await peer.finish(loss);
  const seconds = (performance.now() - started) / 1000;
  const adapter = navigator.gpu ? await navigator.gpu.requestAdapter().then((a) => (a?.info ? `${a.info.vendor} ${a.info.architecture} ${a.info.description}`.trim() : '')) : '';
  return { system: peer.version, backend: peer.adapterBackend, batch: BATCH, steps, images_per_s: +(steps * BATCH / seconds).toFixed(2),
    ms_per_step: +(seconds * 1000 / steps).toFixed(1), warmup_ms: Math.round(firstStepsMs), first_loss: firstLoss, last_loss: lastLoss, adapter };
}

main().then((r) => { document.title = `PEER ${JSON.stringify(r)}`; },
  (e) => { document.title = `PEER ${JSON.stringify({ system, backend, error: String(e?.stack ?? e) })}`; });
