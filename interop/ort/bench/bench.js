#!/usr/bin/env node
// ONNX Runtime side of the integer engine benchmark (issue 15): images/s of an ONNX model
// on ONNX Runtime's CPU execution provider, one intra-op thread, spinning off, at the batch
// sizes `qat bench --engine` uses, in interleaved rounds.
//
//   node bench.js MODEL.onnx [--batches 1,8,64,256] [--images 2048] [--rounds 3]
//                            [--dtype uint8|float32] [--shape 1,28,28] [--json]
//
// Needs onnxruntime-node 1.30.0 (npm install onnxruntime-node@1.30.0 in this directory, or
// NODE_PATH pointing at a node_modules holding it). The input's element type and per-image
// shape come from the model (InferenceSession.inputMetadata) unless --dtype / --shape say
// otherwise; the batch dimension must be free (a dim_param) for batches above 1. The images
// are seeded pseudo-random pixels 0..255 (float32 inputs get the same codes as floats): no
// kernel's time depends on them. Batch 1 is one run() per image. Besides wall-clock
// images/s it prints images per second of the process's CPU time (user + system), which a
// machine shared with other work disturbs less.
'use strict';
const ort = require('onnxruntime-node');

function usage(msg) {
  process.stderr.write(`bench.js: ${msg}\nusage: node bench.js MODEL.onnx [--batches 1,8,64,256] [--images N] [--rounds N] [--dtype uint8|float32] [--shape C,H,W] [--json]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { batches: [1, 8, 64, 256], images: 2048, rounds: 3, dtype: '', shape: null, json: false, model: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    const posInt = (s, what) => { const n = Number(s); if (!Number.isInteger(n) || n < 1 || n > 1 << 20) usage(`${what} ${s} is not an integer in 1..${1 << 20}`); return n; };
    switch (a) {
      case '--batches': o.batches = val().split(',').map((s) => posInt(s, 'batch')); break;
      case '--images': o.images = posInt(val(), '--images'); break;
      case '--rounds': o.rounds = posInt(val(), '--rounds'); break;
      case '--dtype': o.dtype = val(); if (!['uint8', 'float32'].includes(o.dtype)) usage(`--dtype ${o.dtype}: uint8 or float32`); break;
      case '--shape': o.shape = val().split(',').map((s) => posInt(s, 'shape')); break;
      case '--json': o.json = true; break;
      default:
        if (a.startsWith('-') || o.model) usage(`unexpected argument ${a}`);
        o.model = a;
    }
  }
  if (!o.model) usage('no model file');
  return o;
}

// The element type and per-image shape of the model's first input.
function inputSpec(sess, o) {
  const meta = (sess.inputMetadata || [])[0] || {};
  const dtype = o.dtype || meta.type || 'uint8';
  let shape = o.shape;
  if (!shape) {
    if (!Array.isArray(meta.shape) || meta.shape.length < 2) usage('the model does not tell its input shape: give --shape C,H,W');
    shape = meta.shape.slice(1).map((d) => (typeof d === 'number' ? d : NaN));
    if (shape.some((d) => !Number.isInteger(d) || d < 1)) usage(`input shape ${JSON.stringify(meta.shape)} has free dimensions past the batch: give --shape`);
  }
  if (!['uint8', 'float32'].includes(dtype)) usage(`input type ${dtype}: only uint8 and float32 inputs are supported`);
  const batchFixed = Array.isArray(meta.shape) && typeof meta.shape[0] === 'number' ? meta.shape[0] : 0;
  return { name: sess.inputNames[0], dtype, shape, batchFixed };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
  let sess;
  try {
    sess = await ort.InferenceSession.create(o.model, opts);
  } catch (e) {
    process.stderr.write(`bench.js: ${o.model}: ${e.message.split('\n')[0]}\n`);
    process.exit(1);
  }
  const spec = inputSpec(sess, o);
  const px = spec.shape.reduce((a, b) => a * b, 1);
  const maxB = Math.max(...o.batches);
  const images = Math.max(o.images - (o.images % maxB), maxB);
  const codes = new Uint8Array(images * px);
  let s = 0x9e3779b9 >>> 0; // xorshift32, seeded
  for (let i = 0; i < codes.length; i++) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; codes[i] = s & 255; }
  const data = spec.dtype === 'uint8' ? codes : Float32Array.from(codes);
  const batches = o.batches.filter((b) => {
    if (spec.batchFixed && b !== spec.batchFixed) { process.stderr.write(`bench.js: batch ${b} skipped: the model's batch dimension is fixed at ${spec.batchFixed}\n`); return false; }
    return true;
  });
  // Tensors built once: the timed loop is run() only.
  const feeds = new Map();
  for (const b of batches) {
    const fs = [];
    for (let i = 0; i < images; i += b) fs.push({ [spec.name]: new ort.Tensor(spec.dtype, data.subarray(i * px, (i + b) * px), [b, ...spec.shape]) });
    feeds.set(b, fs);
    await sess.run(fs[0]); // warm up
  }
  const wall = new Map(batches.map((b) => [b, 0n]));
  const cpu = new Map(batches.map((b) => [b, 0]));
  for (let r = 0; r < o.rounds; r++) {
    for (const b of batches) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (const f of feeds.get(b)) await sess.run(f);
      wall.set(b, wall.get(b) + (process.hrtime.bigint() - t0));
      const c = process.cpuUsage(c0);
      cpu.set(b, cpu.get(b) + c.user + c.system);
    }
  }
  const results = [];
  process.stdout.write(`onnxruntime-node ${require('onnxruntime-node/package.json').version}, ${o.model}, input ${spec.name} ${spec.dtype} [N,${spec.shape}], one intra-op thread, spinning off, ${images} images x ${o.rounds} interleaved rounds per batch size:\n`);
  for (const b of batches) {
    const n = images * o.rounds;
    const ips = n / (Number(wall.get(b)) / 1e9);
    const ipc = cpu.get(b) > 0 ? n / (cpu.get(b) / 1e6) : 0;
    results.push({ runtime: 'onnxruntime', batch: b, images_per_second: ips, images_per_cpu_second: ipc });
    process.stdout.write(`  batch ${String(b).padEnd(3)} ort    ${ips.toFixed(0).padStart(9)} images/s  (${ipc.toFixed(0).padStart(9)} images per CPU second)\n`);
  }
  if (o.json) process.stdout.write(JSON.stringify({ onnxruntime: results }) + '\n');
}

main().catch((e) => { process.stderr.write(`bench.js: ${e.message}\n`); process.exit(1); });
