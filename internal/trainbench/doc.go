// Package trainbench measures qatgo's training speed for `qat bench`: float and QAT training,
// with gorgonia's stock conv and pool ops and with qatgo's, on the same batches in one process,
// interleaved in rounds against drift in the machine's speed, with CPU time and peak RSS.
package trainbench
