// ort_run.js - runs an ONNX model with ONNX Runtime (npm onnxruntime-node, from ORT_DIR) on an
// input of raw little-endian float32 values and writes its first output the same way: the
// export tests compare ONNX Runtime's logits with ours (tests/test_export.sh).
//   node tests/ort_run.js MODEL.onnx INPUT.f32 N C H W OUTPUT.f32
const fs = require('fs');
const path = require('path');
const ort = require(path.join(process.env.ORT_DIR, 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, input, n, c, h, w, output] = process.argv.slice(2);
  const dims = [n, c, h, w].map(Number);
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) });
  const y = out[session.outputNames[0]].data;
  fs.writeFileSync(output, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}
main().catch((e) => { console.error('ort_run: ' + e.message); process.exit(1); });
