#!/usr/bin/env node
// Runs a qatgo ONNX export in ONNX Runtime (CPU, one intra-op thread) on MNIST idx images.
//
//   node run.js --model M.onnx --images t10k-images-idx3-ubyte[.gz] [--limit N] [--batch B]
//               [--float-input SCALE,ZERO] [--out DIR] [--optimized FILE] [--shape C,H,W]
//
// Input: the uint8 pixels as they are (QOperator form), or with --float-input the float32
// values SCALE * (pixel - ZERO) (QDQ form). Every graph output must be uint8 or float32.
//
// Without --out it prints one JSON object: {"outputs": [...], "images": [{"argmax": k,
// "codes": {name: [..]}}, ...]} (argmax over the output "codes"). With --out it writes
// DIR/summary.json ({"ort": version, "images": n, "outputs": [{name, type, per_image}],
// "argmax": [...]}) and one raw file per output, DIR/<name>.bin, with that output for all
// images concatenated (uint8 bytes, or little-endian float32), for large runs.
// --optimized FILE makes ONNX Runtime save the graph it runs after its fusions.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

function usage(msg) {
  process.stderr.write(`run.js: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { limit: 0, batch: 100 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (v === undefined) usage(`${k} needs a value`);
    switch (k) {
      case '--model': a.model = v; break;
      case '--images': a.images = v; break;
      case '--limit': a.limit = Number(v); break;
      case '--batch': a.batch = Number(v); break;
      case '--out': a.out = v; break;
      case '--optimized': a.optimized = v; break;
      case '--shape': { // C,H,W of an image (default 1,rows,cols); the idx file holds C*H*W bytes per image
        const p = v.split(',').map(Number);
        if (p.length !== 3 || !p.every((d) => Number.isInteger(d) && d > 0)) usage(`--shape wants C,H,W, got ${v}`);
        a.shape = p;
        break;
      }
      case '--float-input': {
        const p = v.split(',').map(Number);
        if (p.length !== 2 || !(p[0] > 0) || !Number.isInteger(p[1])) usage(`--float-input wants SCALE,ZERO, got ${v}`);
        a.floatInput = { scale: p[0], zero: p[1] };
        break;
      }
      default: usage(`unknown argument ${k}`);
    }
    i++;
  }
  if (!a.model || !a.images) usage('needs --model and --images');
  if (!Number.isInteger(a.limit) || a.limit < 0) usage(`bad --limit ${a.limit}`);
  if (!Number.isInteger(a.batch) || a.batch < 1 || a.batch > 10000) usage(`bad --batch ${a.batch}`);
  return a;
}

// readImages parses an idx3-ubyte file (gzip or not): magic 0x00000803, n, rows, cols.
function readImages(file) {
  let buf = fs.readFileSync(file);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  if (buf.length < 16 || buf.readUInt32BE(0) !== 0x803) throw new Error(`${file}: not an idx3-ubyte image file`);
  const n = buf.readUInt32BE(4), rows = buf.readUInt32BE(8), cols = buf.readUInt32BE(12);
  if (buf.length !== 16 + n * rows * cols) throw new Error(`${file}: ${buf.length - 16} pixel bytes for ${n} images of ${rows}x${cols}`);
  return { n, rows, cols, pixels: buf.subarray(16) };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const img = readImages(a.images);
  const n = a.limit > 0 ? Math.min(a.limit, img.n) : img.n;
  const opts = {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  };
  if (a.optimized) opts.optimizedModelFilePath = a.optimized;
  const sess = await ort.InferenceSession.create(a.model, opts);
  if (sess.inputNames.length !== 1) throw new Error(`model has ${sess.inputNames.length} inputs, want 1`);
  const shape = a.shape || [1, img.rows, img.cols];
  const px = shape[0] * shape[1] * shape[2];
  if (px !== img.rows * img.cols) throw new Error(`--shape ${shape} has ${px} values per image, the idx images ${img.rows * img.cols}`);
  const names = sess.outputNames;
  const chunks = Object.fromEntries(names.map((k) => [k, []]));
  const info = {};
  const argmax = [];
  for (let first = 0; first < n; first += a.batch) {
    const b = Math.min(a.batch, n - first);
    const src = img.pixels.subarray(first * px, (first + b) * px);
    let input;
    if (a.floatInput) {
      const f = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) f[i] = Math.fround(a.floatInput.scale * (src[i] - a.floatInput.zero));
      input = new ort.Tensor('float32', f, [b, ...shape]);
    } else {
      input = new ort.Tensor('uint8', Uint8Array.from(src), [b, ...shape]);
    }
    const res = await sess.run({ [sess.inputNames[0]]: input });
    for (const k of names) {
      const t = res[k];
      if (t.type !== 'uint8' && t.type !== 'float32') throw new Error(`output ${k} has type ${t.type}`);
      info[k] = { name: k, type: t.type, per_image: t.data.length / b };
      chunks[k].push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    const codes = res.codes;
    if (!codes) throw new Error('model has no output "codes"');
    const c = codes.data.length / b;
    for (let i = 0; i < b; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (codes.data[i * c + j] > codes.data[i * c + best]) best = j;
      argmax.push(best);
    }
  }
  const outputs = names.map((k) => info[k]);
  if (a.out) {
    fs.mkdirSync(a.out, { recursive: true });
    for (const k of names) fs.writeFileSync(path.join(a.out, `${k}.bin`), Buffer.concat(chunks[k]));
    fs.writeFileSync(path.join(a.out, 'summary.json'), JSON.stringify({ ort: ort.env.versions.node, images: n, outputs, argmax }));
    return;
  }
  const images = [];
  const all = Object.fromEntries(names.map((k) => [k, Buffer.concat(chunks[k])]));
  for (let i = 0; i < n; i++) {
    const codes = {};
    for (const k of names) {
      const p = info[k].per_image;
      const raw = all[k];
      codes[k] = info[k].type === 'uint8'
        ? Array.from(raw.subarray(i * p, (i + 1) * p))
        : Array.from(new Float32Array(raw.buffer.slice(raw.byteOffset + 4 * i * p, raw.byteOffset + 4 * (i + 1) * p)));
    }
    images.push({ argmax: argmax[i], codes });
  }
  process.stdout.write(JSON.stringify({ ort: ort.env.versions.node, outputs, images }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`run.js: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
