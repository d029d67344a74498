// Package report draws pictures of qatgo runs and writes a readable page about them.
//
// It reads what the commands leave in a run directory and nothing else: metrics.jsonl (one
// record per epoch: loss, accuracies, activation ranges), prune.jsonl (one record per
// prune-retrain cycle), sensitivity.json (qat sensitivity's sweep), checkpoint.qck (weights,
// masks, codebooks) and integer model files (*.qat). From them it draws, with gonum.org/v1/plot,
// PNG and SVG pictures into RUN/plots/:
//
//	training   loss, train and test accuracy per epoch (prune cycles marked)
//	ranges     activation range [min, max] of every quantized layer per epoch (EMA observers)
//	prune      sparsity and accuracy per prune-retrain cycle; kept fraction per layer beside
//	           Han et al.'s
//	sensitivity  test accuracy vs sparsity with one layer pruned at a time
//	weights    per-layer histograms of the weights: the pruned spike at zero, the centroids
//	frontier   test accuracy vs file bytes of several runs (Frontier)
//
// and a Markdown page (Write) with the pictures, the integer model's layers and a results
// table. The package sits above train and export/qnet; neither imports it.
package report
