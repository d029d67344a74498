package main

// The synopsis, flag groups and examples `qat CMD -h` prints (cli.go, printHelp).

// dataUsage is the help of every --data flag.
const dataUsage = "idx `dir`ectory (README: Your own model and data): {train,t10k}-images-idx3-ubyte[.gz] (idx3 N x H x W or idx4 N x C x H x W) and {train,t10k}-labels-idx1-ubyte[.gz] (classes = max label + 1); default: the MNIST shipped in the GoMNIST module"

var (
	quantFlags = flagList{"quantization", []string{"mode", "wbits", "abits", "logit-bits", "per-channel", "layer-bits", "ema-decay", "quant-delay", "calib"}}
	optimFlags = flagList{"optimization", []string{"epochs", "stop-after", "batch", "lr", "optimizer", "momentum", "weight-decay", "schedule", "augment", "seed"}}
	runFlags   = flagList{"model, data and output", []string{"model", "ops", "from", "resume", "out", "data", "train-limit", "val", "test-limit", "eval-batch"}}
	outFlags   = flagList{"output", []string{"json", "quiet"}}
)

func init() {
	helps["qat train"] = help{
		synopsis: "qat train [flags]\n\nTrain a model in float or with fake quantization (QAT), or calibrate a float checkpoint (PTQ).\nWrites OUT/checkpoint.qck and OUT/metrics.jsonl after every epoch (atomically).",
		groups:   []flagList{runFlags, quantFlags, optimFlags, outFlags},
		examples: []string{
			"qat train --mode float --epochs 4 --out runs/float",
			"qat train --from runs/float --wbits 4 --abits 4 --epochs 2 --lr 1e-4 --out runs/w4a4",
			"qat train --mode ptq --from runs/float --calib 1000 --out runs/ptq",
			"qat train --model examples/specs/conv3s2.json --wbits 4 --abits 4 --epochs 4 --out runs/custom",
			"qat train --model rgb.json --data my-idx-dir --val 1000 --epochs 4 --out runs/rgb",
		},
	}
	helps["qat export"] = help{
		synopsis: "qat export --from CHECKPOINT --out FILE.qat [flags]\n\nConvert a trained checkpoint into an integer model file, compare it with the simulation on the\ntest set, and write the file only when all of that succeeded. --format onnx writes an ONNX model\nand --format c C99 source (--out a directory) instead; --from may then also be a .qat file.",
		groups: []flagList{
			{"input and output", []string{"from", "out", "format", "encoding"}},
			{"ONNX (--format onnx)", []string{"onnx-form", "onnx-int4", "onnx-int8-weights", "onnx-logits", "onnx-layer-outputs"}},
			{"C (--format c)", []string{"c-name", "c-layout"}},
			{"comparison", []string{"data", "test-limit", "eval-batch"}},
			outFlags,
		},
		examples: []string{
			"qat export --from runs/qat --out model.qat",
			"qat export --from runs/compress/cluster --out model.qat --encoding huffman --json",
			"qat export --from runs/qat/model.qat --out lenet5.onnx --format onnx --onnx-form qdq",
			"qat export --from runs/compress/model.qat --out mcu/ --format c",
		},
	}
	helps["qat summary"] = help{
		synopsis: "qat summary [--json] FILE.qat\n\nPrint an integer model's layers: shapes, bits, parameters, sparsity, clusters and bytes.",
		examples: []string{"qat summary runs/qat/model.qat", "qat summary --json model.qat"},
	}
	helps["qat bench"] = help{
		synopsis: "qat bench [flags]\n\nTraining speed (stock vs fast ops, float vs QAT, same batches, interleaved rounds) and, with\n--from and --int, inference speed (float graph vs integer engine) in one process.",
		groups: []flagList{
			{"training benchmark", []string{"model", "wbits", "abits", "batch", "batches", "rounds", "paired"}},
			{"inference benchmark", []string{"from", "int", "images", "engine"}},
			{"data and output", []string{"data", "json"}},
		},
		examples: []string{
			"qat bench --batches 200 --rounds 4",
			"qat bench --batches 0 --from runs/qat --int runs/qat/model.qat --images 2000",
			"qat bench --engine runs/qat/model.qat --images 1024 --rounds 3",
		},
	}
	helps["qat prune"] = help{
		synopsis: "qat prune --from CHECKPOINT [flags]\n\nMagnitude pruning of a trained checkpoint: prune-retrain cycles or gradual (Zhu-Gupta) pruning,\nin QAT or float.",
		groups: []flagList{
			{"pruning", []string{"target", "policy", "quality", "layer-target", "prune-schedule", "cycles", "retrain-epochs", "prune-freq"}},
			runFlags, quantFlags, optimFlags, outFlags,
		},
		examples: []string{
			"qat prune --from runs/qat --target 0.92 --cycles 5 --retrain-epochs 2 --out runs/prune",
			"qat prune --from runs/qat --policy layer --layer-target conv1=0.5,fc1=0.95 --out runs/prune",
		},
	}
	helps["qat sensitivity"] = help{
		synopsis: "qat sensitivity --from CHECKPOINT [flags]\n\nTest accuracy with one layer at a time pruned to each sparsity (no retraining), and suggested\nper-layer targets.",
		groups: []flagList{
			{"sweep", []string{"from", "sparsities", "tolerance"}},
			{"data", []string{"data", "test-limit", "eval-batch"}},
			outFlags,
		},
		examples: []string{
			"qat sensitivity --from runs/qat",
			"qat sensitivity --from runs/qat --sparsities 0.5,0.9,0.95 --tolerance 0.002 --json",
		},
	}
	helps["qat cluster"] = help{
		synopsis: "qat cluster --from CHECKPOINT [flags]\n\nk-means weight sharing per layer, then centroid fine-tuning (cluster-preserving QAT).",
		groups: []flagList{
			{"clustering", []string{"k", "layer-k", "init", "kmeans-iter"}},
			runFlags, quantFlags, optimFlags, outFlags,
		},
		examples: []string{
			"qat cluster --from runs/prune --k 16 --epochs 1 --out runs/cluster",
			"qat cluster --from runs/prune --layer-k conv1=64,fc1=16 --init density --out runs/cluster",
		},
	}
	helps["qat compress"] = help{
		synopsis: "qat compress --from CHECKPOINT [flags]\n\nThe Deep Compression pipeline: prune -> cluster -> Huffman-coded export, with a stage table.\nSettings come from the flags or a JSON --config (see --print-config); flags override the file.",
		groups: []flagList{
			{"pipeline", []string{"config", "print-config", "from", "out", "skip-prune", "skip-cluster", "encoding"}},
			{"pruning stage", []string{"target", "policy", "layer-target", "prune-schedule", "cycles", "retrain-epochs", "prune-lr", "prune-mode"}},
			{"clustering stage", []string{"k", "layer-k", "init", "cluster-epochs", "cluster-lr"}},
			{"both training stages", []string{"model", "wbits", "abits", "layer-bits", "quantizer", "range", "augment", "seed", "data", "train-limit", "test-limit"}},
			outFlags,
		},
		examples: []string{
			"qat compress --from runs/qat --out runs/compress",
			"qat compress --print-config > compress.json; qat compress --config compress.json --from runs/qat",
			"qat compress --from runs/qat --skip-cluster --target 0.9 --json > result.json",
		},
	}
}
