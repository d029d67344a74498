// Command ckcmp compares two checkpoints with their wall-clock fields (Checkpoint.Seconds and
// every EpochMetrics.Seconds) set to 0: go run ./scripts/ckcmp A.qck B.qck (scripts/spec-identity.sh).
package main
