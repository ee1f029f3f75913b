// ort-bench.js - times ONNX Runtime (npm onnxruntime-node) on a ResNet-50 ONNX model, printing
// the same line as `resnet bench`: "median X ms per batch, Y ms per image, Z images/s".
//   node bench/ort-bench.js MODEL.onnx THREADS BATCH ITERS
//   node bench/ort-bench.js --optimized MODEL.onnx OUT.onnx   (writes the graph ONNX Runtime runs, after
//                                                           its fusions, and times nothing)
//   node bench/ort-bench.js --profile MODEL.onnx THREADS BATCH ITERS
//       per node, through ONNX Runtime's own profiler: its best time over the runs, one line each,
//       "KIND<tab>ms" in the order the nodes ran. KIND names a convolution as `resnet bench --profile`
//       does ("1x1/2 256->128 28x28": window/stride, channels, output size), the fully connected
//       layer "fc", the pools "maxpool" and "avgpool", and any other node by its operator.
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require(path.join(process.env.ORT_DIR, 'node_modules', 'onnxruntime-node'));

// What a profiled node was, in `resnet bench --profile`'s words (see the usage above).
function kindOf(args) {
  const shape = (t) => (t ? Object.values(t)[0] : null);
  const op = args.op_name, ins = args.input_type_shape || [], out = shape((args.output_type_shape || [])[0]);
  if (op === 'Conv' || op === 'FusedConv') {
    const x = shape(ins[0]), w = shape(ins[1]); // NCHW input, OIHW weights
    if (x && w && out && w.length === 4)
      return `${w[2]}x${w[3]}/${Math.round(x[2] / out[2])} ${x[1]}->${w[0]} ${out[2]}x${out[3]}`;
  }
  if (op === 'Gemm' || op === 'MatMul' || op === 'FusedGemm') return 'fc';
  if (op === 'MaxPool') return 'maxpool';
  if (op === 'GlobalAveragePool') return 'avgpool';
  return op;
}

function printNodes(events) {
  const best = new Map();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const had = best.get(e.name);
    if (!had || e.dur < had.us) best.set(e.name, { us: e.dur, kind: kindOf(e.args) });
  }
  for (const { us, kind } of best.values()) console.log(`${kind}\t${(us / 1000).toFixed(3)}`);
}

async function main() {
  if (process.argv[2] === '--optimized') {
    await ort.InferenceSession.create(process.argv[3], {
      intraOpNumThreads: 1, graphOptimizationLevel: 'all', optimizedModelFilePath: process.argv[4],
    });
    return;
  }
  const profile = process.argv[2] === '--profile';
  const [model, threads, batch, iters] = process.argv.slice(profile ? 3 : 2);
  const n = Number(batch), runs = Number(iters);
  const dir = profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'ort-profile-')) : null;
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', enableProfiling: profile,
    ...(profile ? { profileFilePrefix: path.join(dir, 'p') } : {}),
  });
  const data = new Float32Array(n * 3 * 224 * 224);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i) * 2;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [n, 3, 224, 224]) };
  for (let i = 0; i < 2; i++) await session.run(feeds); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (profile) {
    await session.release(); // writes the profile
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    fs.rmSync(dir, { recursive: true, force: true });
    printNodes(events);
    return;
  }
  times.sort((a, b) => a - b);
  const med = runs % 2 ? times[(runs - 1) / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
  console.log(`onnxruntime ${ort.env.versions ? ort.env.versions.common : ''}, threads ${threads}, batch ${n}`);
  console.log(`median ${med.toFixed(2)} ms per batch, ${(med / n).toFixed(2)} ms per image, ` +
              `${(1000 * n / med).toFixed(2)} images/s (min ${times[0].toFixed(2)} ms per batch)`);
}
main().catch((e) => { console.error('ort-bench: ' + e.message); process.exit(1); });
