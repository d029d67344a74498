// Package train trains qatgo's models: the training loop, quantization-aware training,
// post-training calibration, prune-retrain and weight-sharing fine-tuning, and the run
// directory each of them leaves behind.
//
// Entry points (each takes a configuration whose Validate method checks every setting before
// any work; Config, PruneConfig and ClusterConfig have Default* constructors):
//
//   - Run (Config): one training run. Mode is ModeFloat (no quantization), ModeQAT (fake-quant
//     training, Jacob et al. 2018: from scratch or fine-tuning the checkpoint in From) or
//     ModePTQ (no training: the activation ranges of From calibrated on CalibImages training
//     images). Optimizer (OptSGD, OptAdam) and Schedule (ScheduleConst, ScheduleCosine,
//     ScheduleStep) pick the update rule and the learning rate over the steps (LR).
//   - Prune (PruneConfig): magnitude pruning (PolicyGlobal, PolicyLayer, PolicyQuality), as
//     prune-retrain cycles (PruneCycles, Han et al. 2015) or gradually during training
//     (PruneGradual, Zhu & Gupta 2017); the pruned weights stay zero through every later step
//     and export.
//   - Cluster (ClusterConfig): weight sharing (Deep Compression §3): per layer, 1-D k-means over
//     the kept weights (package train/kmeans), then fine-tuning of the centroids with the
//     assignments fixed.
//   - Sensitivity (SensitivityConfig): accuracy with each layer alone pruned to each sparsity.
//   - Analyze (AnalyzeConfig): per-layer SQNR of the float model quantized at several widths.
//   - Evaluate, Predict, Calibrate: a graph on a data set; Step: one optimizer update, for
//     loops outside the package.
//
// Run directory: every driver writes its checkpoint atomically after every epoch or cycle
// (CheckpointFile, a Checkpoint: the model state of package train/checkpoint plus the run's
// Config, optimizer state and metrics), so a run interrupted at any point resumes to the same
// result as an uninterrupted one (Config.Resume), and a NaN loss leaves the last good
// checkpoint. Metrics go to MetricsFile (one EpochMetrics per line), PruneFile and
// SensitivityFile. LoadCheckpoint reads a checkpoint and Checkpoint.Model rebuilds its model;
// package export turns it into an integer model.
//
// Randomness is seeded (Config.Seed): the same configuration gives bit-identical checkpoints.
// Errors carry the prefix "train: "; a bad setting is a *SettingError naming the setting and
// its allowed range (the CLI maps it to its flag).
package train
