// Package checkpoint is the checkpoint file format of qatgo's training runs and the model
// state it carries.
//
// The format (Encode, Decode, WriteFile) frames a gob payload with a magic, a version, its
// length and a CRC-32, so a truncated, corrupt or foreign file is refused (ErrInvalid) before
// anything is decoded from it. The payload is train.Checkpoint: the model state below plus the
// run's configuration, optimizer state and metrics (package train owns those, and reads and
// writes its run directory with train.LoadCheckpoint and train.SaveCheckpoint).
//
// The model state is plain data, copied out of an nn.Model and checked on the way back in:
// parameters and activation ranges (Snapshot, Restore), batch-norm running statistics
// (SnapshotBN, RestoreBN), learned LSQ steps (SnapshotSteps, RestoreSteps), and pruning masks
// and weight-sharing codebooks (SnapshotCompression, RestoreCompression). Each Restore checks
// names, shapes, lengths and values against the model before it writes anything.
package checkpoint
