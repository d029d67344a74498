// Package kmeans is the 1-D k-means of weight sharing (Deep Compression §3): Fit1D clusters
// values with Lloyd's algorithm from one of three initializations (Init), exactly and
// deterministically in one dimension, and ClusterWeights applies it to a weight tensor's kept
// (nonzero) weights, the pruned ones belonging to no cluster. train.Cluster calls it per layer
// before fine-tuning the centroids. It depends on the standard library only.
package kmeans
