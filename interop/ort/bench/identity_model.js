#!/usr/bin/env node
// Writes a one-node ONNX model (Identity, uint8 input [N,1,28,28]) to the file named by the
// first argument: a stand-in that lets bench.js be checked end to end without the exporter.
// The protobuf is encoded by hand (onnx.proto3: ModelProto, GraphProto, NodeProto,
// ValueInfoProto, TypeProto.Tensor, TensorShapeProto).
'use strict';
const fs = require('fs');
const varint = (n) => { const b = []; do { let x = n & 0x7f; n = Math.floor(n / 128); if (n) x |= 0x80; b.push(x); } while (n); return b; };
const key = (field, wire) => varint(field * 8 + wire);
const vint = (field, n) => [...key(field, 0), ...varint(n)];
const bytes = (field, b) => [...key(field, 2), ...varint(b.length), ...b];
const str = (field, s) => bytes(field, [...Buffer.from(s)]);
const dim = (d) => (typeof d === 'number' ? vint(1, d) : str(2, d));
const valueInfo = (name) => [...str(1, name), ...bytes(2, bytes(1, [...vint(1, 2 /* UINT8 */), ...bytes(2, ['N', 1, 28, 28].flatMap((d) => bytes(1, dim(d))))]))];
const node = [...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Identity')];
const graph = [...bytes(1, node), ...str(2, 'identity'), ...bytes(11, valueInfo('x')), ...bytes(12, valueInfo('y'))];
const model = [...vint(1, 8 /* ir_version */), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...vint(2, 13)])];
fs.writeFileSync(process.argv[2], Buffer.from(model));
