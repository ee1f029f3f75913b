// ort-bench.js - times ONNX Runtime (npm onnxruntime-node) on a ResNet-50 ONNX model, printing
// the same line as `resnet bench`: "median X ms per batch, Y ms per image, Z images/s".
//   node bench/ort-bench.js MODEL.onnx THREADS BATCH ITERS
//   node bench/ort-bench.js --optimized MODEL.onnx OUT.onnx   (writes the graph ONNX Runtime runs, after
//                                                           its fusions, and times nothing)
const path = require('path');
const ort = require(path.join(process.env.ORT_DIR, 'node_modules', 'onnxruntime-node'));

async function main() {
  if (process.argv[2] === '--optimized') {
    await ort.InferenceSession.create(process.argv[3], {
      intraOpNumThreads: 1, graphOptimizationLevel: 'all', optimizedModelFilePath: process.argv[4],
    });
    return;
  }
  const [model, threads, batch, iters] = process.argv.slice(2);
  const n = Number(batch), runs = Number(iters);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
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
  times.sort((a, b) => a - b);
  const med = runs % 2 ? times[(runs - 1) / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
  console.log(`onnxruntime ${ort.env.versions ? ort.env.versions.common : ''}, threads ${threads}, batch ${n}`);
  console.log(`median ${med.toFixed(2)} ms per batch, ${(med / n).toFixed(2)} ms per image, ` +
              `${(1000 * n / med).toFixed(2)} images/s (min ${times[0].toFixed(2)} ms per batch)`);
}
main().catch((e) => { console.error('ort-bench: ' + e.message); process.exit(1); });
