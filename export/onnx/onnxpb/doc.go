// Package onnxpb holds the ONNX protobuf message types (ModelProto, GraphProto, NodeProto,
// TensorProto, ...) generated from the official onnx.proto of ONNX release v1.17.0
// (github.com/onnx/onnx, tag v1.17.0, file onnx/onnx.proto, Apache-2.0, kept unchanged beside
// this file) with protoc 3.21.12 (libprotoc) and protoc-gen-go v1.36.11, on the runtime
// google.golang.org/protobuf v1.36.11 (pinned in go.mod to the generator's version).
//
// Regenerate with (protoc from Debian's protobuf-compiler; protoc-gen-go via
// `go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11`):
//
//	go generate ./export/onnx/onnxpb/
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/qatgo/qatgo/export/onnx/onnxpb onnx.proto
