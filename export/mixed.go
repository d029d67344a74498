package export

// Automatic mixed precision under a budget in exact file bytes (`qat mixed`).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/internal/atomicfile"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
	"github.com/qatgo/qatgo/train/checkpoint"
)

// MixedConfig is a mixed-precision search: per-layer weight and activation bits of a trained
// float checkpoint chosen to fit BudgetBytes of integer model file, then fine-tuned with QAT
// (Train) and exported.
//
// The search measures, on SensImages held-out training images (the last ones of the training
// set; the test set is never looked at before the final export), each layer's sensitivity to
// its width: the noise power of the logits, sum (f - q)^2 against the float model f, with only
// that layer at the width and every other at W8A8 (post-training quantization with the ranges
// or LSQ steps Train.Quant's range method gives on CalibImages training images). The noise of a
// whole assignment is estimated as the sum of its layers' solo noises (the additive model of
// HAWQ-V3 and AIMET's AMP), its size as the sum of the layers' records; the Pareto frontier of
// (estimated bytes, estimated noise) is then measured exactly: each point's model is built,
// converted and sized by the file's own storage accounting (qnet.Storage: the bytes `qat
// summary` reports), and its logits SQNR and accuracy are measured on the held-out images. The
// choice is the frontier point of least estimated noise whose exact bytes fit
// BudgetBytes*(1-Margin).
//
// Activation widths cost no file bytes: each layer gets the smallest of ABitsChoices whose solo
// accuracy on the held-out images is within ActTolerance of the widest choice's (the last
// layer's output stays at Train.Quant.LogitBits).
//
// Fine-tuning changes the weights, and with them the entropy-coded sizes; Margin keeps room for
// that. If the exported file still exceeds the budget, the next smaller frontier point is
// fine-tuned, up to Retries times; a file over the budget is never left behind.
type MixedConfig struct {
	From         string // the trained float checkpoint
	Out          string // the run directory: checkpoint.qck, metrics.jsonl, model.qat, mixed.json
	BudgetBytes  int
	WBitsChoices []int
	ABitsChoices []int
	// WStepScales multiply the initial (MSE or --range) LSQ weight steps of a layer: each
	// width is offered at each scale. A wider step puts more weights in the zero bin, which
	// the Huffman-coded storage turns into fewer bytes (a dense layer, no pruning mask); LSQ
	// then trains the step from there. {1} (the default) keeps the initial steps.
	WStepScales  []float64
	ActTolerance float64 // accuracy (fraction) an activation width may lose against the widest
	Margin       float64 // fraction of the budget kept free at the search
	Retries      int
	CalibImages  int
	SensImages   int
	Encoding     string // weight storage of the file (see Config.Encoding)
	// Train is the fine-tuning (QAT); From, Out and the per-layer bits are set by MixedSearch.
	Train train.Config
}

// DefaultMixedConfig searches weights over 2, 3, 4 and 8 bits with 8-bit activations and
// fine-tunes 2 epochs with LSQ (MSE-initialized steps), learning rate 5e-4, images shifted by
// up to 2 pixels.
func DefaultMixedConfig() MixedConfig {
	tc := train.DefaultConfig()
	tc.Quant.Quantizer, tc.Quant.Range = nn.QuantizerLSQ, nn.RangeMSE
	tc.Epochs, tc.LR, tc.Augment, tc.Out = 2, 5e-4, 2, "runs/mixed"
	return MixedConfig{
		Out: "runs/mixed", WBitsChoices: []int{2, 3, 4, 8}, ABitsChoices: []int{8}, WStepScales: []float64{1}, ActTolerance: 0.002,
		Margin: 0.005, Retries: 1, CalibImages: 500, SensImages: 1000, Encoding: "auto", Train: tc,
	}
}

// maxCombinations bounds the assignments the search enumerates.
const maxCombinations = 1 << 20

// Validate checks the search's settings and the fine-tuning's.
func (c *MixedConfig) Validate() error {
	if c.From == "" || c.Out == "" {
		return errors.New("mixed needs --from FLOAT_CHECKPOINT and --out DIR")
	}
	if c.BudgetBytes < 1 {
		return &train.SettingError{Setting: "BudgetBytes", Value: c.BudgetBytes, Allowed: ">= 1"}
	}
	for _, list := range []struct {
		name string
		v    []int
	}{{"WBitsChoices", c.WBitsChoices}, {"ABitsChoices", c.ABitsChoices}} {
		if len(list.v) == 0 || len(list.v) > 7 {
			return &train.SettingError{Setting: list.name, Value: list.v, Allowed: "1 to 7 bit widths in 2..8"}
		}
		for _, b := range list.v {
			if err := train.IntIn(list.name, b, 2, 8); err != nil {
				return err
			}
		}
	}
	if len(c.WStepScales) == 0 || len(c.WStepScales) > 8 {
		return &train.SettingError{Setting: "WStepScales", Value: c.WStepScales, Allowed: "1 to 8 factors in [0.25, 4]"}
	}
	for _, k := range c.WStepScales {
		if !(k >= 0.25 && k <= 4) {
			return &train.SettingError{Setting: "WStepScales", Value: k, Allowed: "factors in [0.25, 4]"}
		}
		if k != 1 && !c.Train.Quant.LSQ() {
			return errors.New("weight step scales other than 1 need the lsq quantizer (--quantizer lsq)")
		}
	}
	if _, err := ParseEncoding(c.Encoding); err != nil {
		return err
	}
	if !(c.ActTolerance >= 0 && c.ActTolerance <= 1) {
		return &train.SettingError{Setting: "ActTolerance", Value: c.ActTolerance, Allowed: "[0, 1]"}
	}
	if !(c.Margin >= 0 && c.Margin < 1) {
		return &train.SettingError{Setting: "Margin", Value: c.Margin, Allowed: "[0, 1)"}
	}
	if err := firstErr(
		train.IntIn("Retries", c.Retries, 0, 16),
		train.IntIn("CalibImages", c.CalibImages, 1, data.MaxCount),
		train.IntIn("SensImages", c.SensImages, 1, data.MaxCount),
	); err != nil {
		return err
	}
	if c.Train.Resume || c.Train.StopAfter != 0 {
		return errors.New("a mixed-precision run cannot be resumed or stopped early (--resume, --stop-after)")
	}
	tc := c.Train
	tc.From, tc.Out = c.From, c.Out
	if err := train.IntIn("Train.Epochs", tc.Epochs, 1, train.MaxEpochs); err != nil {
		return err
	}
	return tc.Validate()
}

// MixedLayer is one layer's sensitivity and record sizes.
type MixedLayer struct {
	Layer   string `json:"layer"`
	Weights int    `json:"weights"`
	// Per weight option (a width and a step scale, parallel lists): the logits' noise power with only this layer at
	// that width (activations at the layer's chosen width), its SQNR and held-out accuracy, and
	// the bytes of the layer's record in the file at that width.
	WBits       []int      `json:"wbits"`
	WStepScale  []float64  `json:"wstep_scale"`
	Noise       []float64  `json:"noise"`
	SoloSQNR    []*float64 `json:"solo_logits_sqnr_db"` // null: equal to the float logits
	SoloAcc     []float64  `json:"solo_accuracy"`
	RecordBytes []int      `json:"record_bytes"`
	// Per activation width (ABitsChoices order), weights at the widest choice.
	ABits      []int     `json:"abits"`
	ActSoloAcc []float64 `json:"act_solo_accuracy"`
	ChosenA    int       `json:"chosen_abits"`
}

// MixedPoint is one measured assignment of the frontier.
type MixedPoint struct {
	WBits          map[string]int     `json:"wbits"`
	WStepScale     map[string]float64 `json:"wstep_scale"`
	ABits          map[string]int     `json:"abits"`
	EstimatedBytes int                `json:"estimated_bytes"`
	Bytes          int                `json:"bytes"` // exact, by the file's storage accounting (before fine-tuning)
	EstimatedNoise float64            `json:"estimated_noise"`
	SQNR           *float64           `json:"logits_sqnr_db"` // measured, held-out images, PTQ (null: exact)
	Accuracy       float64            `json:"ptq_accuracy"`   // held-out images, PTQ (before fine-tuning)
	Fits           bool               `json:"fits"`
	Chosen         bool               `json:"chosen"`
}

// MixedResult is the search, the fine-tuning and the export.
type MixedResult struct {
	From         string        `json:"from"`
	BudgetBytes  int           `json:"budget_bytes"`
	SearchBytes  int           `json:"search_budget_bytes"` // BudgetBytes*(1-Margin)
	Layers       []MixedLayer  `json:"layers"`
	FloatHeldAcc float64       `json:"float_heldout_accuracy"`
	HeldImages   int           `json:"heldout_images"`
	Frontier     []MixedPoint  `json:"frontier"`
	Choice       *MixedPoint   `json:"choice"`
	LayerBits    string        `json:"layer_bits"` // the choice as a --layer-bits value
	Attempts     int           `json:"attempts"`
	Tried        []MixedTry    `json:"tried"` // every fine-tuned and exported choice, in order
	Train        *train.Result `json:"train"`
	Export       *Result       `json:"export"`
	Bytes        int64         `json:"bytes"`
	TestAccuracy float64       `json:"test_accuracy"` // integer engine, the exported file
	FitsBudget   bool          `json:"fits_budget"`
}

// MixedTry is one fine-tuned and exported choice.
type MixedTry struct {
	LayerBits    string             `json:"layer_bits"`
	WStepScale   map[string]float64 `json:"wstep_scale"`
	SearchBytes  int                `json:"bytes_before_fine_tuning"`
	Bytes        int64              `json:"bytes"`
	TestAccuracy float64            `json:"test_accuracy"` // integer engine, the exported file
	FitsBudget   bool               `json:"fits_budget"`
}

// MixedFile is the search's record in the run directory.
const MixedFile = "mixed.json"

// mixedEnv holds what every measurement of the search shares.
type mixedEnv struct {
	cfg      MixedConfig
	ck       *train.Checkpoint
	trainSet *data.Set
	held     *data.Set
	batch    int
	ref      []float32 // float logits of the held-out images
	sig      float64
	classes  int
	layers   []string
	opt      qnet.EncodeOptions
}

// quantConfig is the search's quantization with per-layer bits w and a (the last layer's output
// at the logit bits).
func (e *mixedEnv) quantConfig(w, a map[string]int) nn.Config {
	q := e.cfg.Train.Quant
	q.WBits, q.ABits, q.Delay = 8, 8, 0
	if q.LogitBits == 0 {
		q.LogitBits = 8
	}
	if q.Decay == 0 {
		q.Decay = 0.99
	}
	q.Layers = map[string]nn.LayerQ{}
	for i, name := range e.layers {
		lq := nn.LayerQ{WBits: 8, ABits: 8, PerChannel: q.PerChannel}
		if b, ok := w[name]; ok {
			lq.WBits = b
		}
		if b, ok := a[name]; ok {
			lq.ABits = b
		}
		if i == len(e.layers)-1 {
			lq.ABits = q.LogitBits
		}
		q.Layers[name] = lq
	}
	return q
}

// build returns the checkpoint's model under q with its graph (caller closes it).
func (e *mixedEnv) build(q nn.Config) (*nn.Model, *nn.Graph, error) {
	if err := q.Validate(); err != nil {
		return nil, nil, err
	}
	m, err := nn.New(e.ck.Config.Arch, q, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := checkpoint.Restore(m, e.ck.Params, nil); err != nil {
		return nil, nil, err
	}
	if err := checkpoint.RestoreBN(m, e.ck.BN); err != nil {
		return nil, nil, err
	}
	if err := checkpoint.RestoreCompression(m, e.ck.Compression); err != nil {
		return nil, nil, err
	}
	m.FoldBN = true
	m.Ops = e.ck.Config.Ops
	gr, err := m.NewGraph(e.batch, false)
	if err != nil {
		return nil, nil, err
	}
	return m, gr, nil
}

// measured is a calibrated quantized model's comparison with the float model on the held-out
// images, and (if sized) its exact file storage.
type measured struct {
	noise   float64
	acc     float64
	storage *qnet.StorageReport
}

// calibrated builds the model under q, calibrates it and multiplies the LSQ weight steps of
// the layers in scales.
func (e *mixedEnv) calibrated(q nn.Config, scales map[string]float64) (*nn.Model, *nn.Graph, error) {
	m, gr, err := e.build(q)
	if err != nil {
		return nil, nil, err
	}
	if err := train.Calibrate(gr, e.trainSet, e.cfg.CalibImages); err != nil {
		gr.Close()
		return nil, nil, err
	}
	for _, l := range m.Quantized() {
		k, ok := scales[l.Name()]
		if !ok || k == 1 {
			continue
		}
		st := l.Quant().WStep
		if st == nil {
			gr.Close()
			return nil, nil, fmt.Errorf("mixed: %s has no learned weight step to scale", l.Name())
		}
		for i := range st.Data {
			st.Data[i] += float32(math.Log(k))
		}
	}
	return m, gr, nil
}

func (e *mixedEnv) measure(q nn.Config, scales map[string]float64, size bool) (*measured, error) {
	m, gr, err := e.calibrated(q, scales)
	if err != nil {
		return nil, err
	}
	defer gr.Close()
	m.SetMode(autograd.ModeEval)
	res := &measured{}
	ok, k := 0, e.classes
	err = train.ForEachBatch(gr, e.held, 0, func(first, n int) error {
		lq := gr.LogitsData()
		for i := range n * k {
			d := float64(e.ref[first*k+i]) - float64(lq[i])
			res.noise += d * d
		}
		for i := range n {
			if train.Argmax(lq[i*k:(i+1)*k]) == int(e.held.Labels[first+i]) {
				ok++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.acc = float64(ok) / float64(e.held.N)
	if size {
		qm, err := Convert(m)
		if err != nil {
			return nil, err
		}
		if res.storage, err = qnet.Storage(qm, e.opt); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (e *mixedEnv) sqnr(noise float64) *float64 {
	if noise == 0 {
		return nil
	}
	v := 10 * math.Log10(e.sig/noise)
	return &v
}

// weightedRecords returns the record bytes of the weighted layers of a storage report, in order.
func weightedRecords(st *qnet.StorageReport) []int {
	var r []int
	for _, l := range st.Layers {
		if l.Weights > 0 {
			r = append(r, l.Bytes)
		}
	}
	return r
}

// heldOut returns the last n images of s as a set (sharing memory).
func heldOut(s *data.Set, n int) *data.Set {
	n = min(n, s.N)
	sz := s.Rows * s.Cols
	first := s.N - n
	return &data.Set{Images: s.Images[first*sz:], Labels: s.Labels[first:], N: n, Rows: s.Rows, Cols: s.Cols}
}

// MixedSearch runs the search, the fine-tuning and the export, and writes MixedFile into
// cfg.Out. Progress lines go to opt.Log.
func MixedSearch(cfg MixedConfig, opt train.Options) (*MixedResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format+"\n", args...)
		}
	}
	ck, err := train.LoadCheckpoint(cfg.From)
	if err != nil {
		return nil, err
	}
	// The search sets every layer's bits for a quantized export: a layer the spec keeps in
	// float is refused, not silently quantized.
	if cm, err := ck.Model(); err != nil {
		return nil, err
	} else if err := CheckQuantizable(cm); err != nil {
		return nil, err
	}
	trainSet, err := data.LoadTrain(cfg.Train.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.Train.TrainLimit > 0 {
		trainSet = trainSet.Subset(cfg.Train.TrainLimit)
	}
	enc, _ := ParseEncoding(cfg.Encoding)
	e := &mixedEnv{cfg: cfg, ck: ck, trainSet: trainSet, held: heldOut(trainSet, cfg.SensImages), batch: 100, opt: qnet.EncodeOptions{Encoding: enc}}
	wch := slices.Compact(slices.Sorted(slices.Values(cfg.WBitsChoices)))
	scales := slices.Compact(slices.Sorted(slices.Values(cfg.WStepScales)))
	type option struct {
		bits  int
		scale float64
	}
	var opts []option
	for _, b := range wch {
		for _, k := range scales {
			opts = append(opts, option{b, k})
		}
	}
	ach := slices.Compact(slices.Sorted(slices.Values(cfg.ABitsChoices)))

	// The float reference.
	fm, fg, err := e.build(e.quantConfig(nil, nil))
	if err != nil {
		return nil, err
	}
	defer fg.Close()
	if err := trainSet.CheckInput(fm.InC, fm.InH, fm.InW); err != nil {
		return nil, err
	}
	if err := trainSet.CheckClasses(fm.Classes); err != nil {
		return nil, err
	}
	for _, l := range fm.Quantized() {
		e.layers = append(e.layers, l.Name())
	}
	fm.SetMode(autograd.ModeFloat)
	e.classes = fm.Classes
	okF := 0
	err = train.ForEachBatch(fg, e.held, 0, func(first, n int) error {
		lf := fg.LogitsData()
		e.ref = append(e.ref, lf[:n*e.classes]...)
		for i := range n {
			if train.Argmax(lf[i*e.classes:(i+1)*e.classes]) == int(e.held.Labels[first+i]) {
				okF++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, v := range e.ref {
		e.sig += float64(v) * float64(v)
	}
	res := &MixedResult{From: cfg.From, BudgetBytes: cfg.BudgetBytes, SearchBytes: int(float64(cfg.BudgetBytes) * (1 - cfg.Margin)),
		FloatHeldAcc: float64(okF) / float64(e.held.N), HeldImages: e.held.N}
	logf("mixed: float model %.2f%% on %d held-out training images; layers %v", 100*res.FloatHeldAcc, e.held.N, e.layers)

	// Activation widths: the smallest within ActTolerance of the widest (weights at the widest).
	chosenA := map[string]int{}
	wmax := wch[len(wch)-1]
	for li, name := range e.layers {
		row := MixedLayer{Layer: name, ABits: ach}
		last := li == len(e.layers)-1
		if last || len(ach) == 1 {
			chosenA[name] = ach[len(ach)-1]
		} else {
			var accs []float64
			for _, a := range ach {
				r, err := e.measure(e.quantConfig(map[string]int{name: wmax}, map[string]int{name: a}), nil, false)
				if err != nil {
					return nil, err
				}
				accs = append(accs, r.acc)
			}
			row.ActSoloAcc = accs
			for i, a := range ach {
				if accs[i] >= accs[len(accs)-1]-cfg.ActTolerance {
					chosenA[name] = a
					break
				}
			}
		}
		row.ChosenA = chosenA[name]
		res.Layers = append(res.Layers, row)
	}

	// Weight widths: solo noise, and record bytes from one model per width.
	var fixed int // bytes of the file outside the weighted layers' records
	for bi, o := range opts {
		all, allK := map[string]int{}, map[string]float64{}
		for _, name := range e.layers {
			all[name], allK[name] = o.bits, o.scale
		}
		r, err := e.measure(e.quantConfig(all, chosenA), allK, true)
		if err != nil {
			return nil, err
		}
		rec := weightedRecords(r.storage)
		if len(rec) != len(e.layers) {
			return nil, fmt.Errorf("mixed: the file has %d weighted layers, the model %d", len(rec), len(e.layers))
		}
		sum := 0
		for li := range e.layers {
			L := &res.Layers[li]
			L.WBits, L.WStepScale = append(L.WBits, o.bits), append(L.WStepScale, o.scale)
			L.RecordBytes = append(L.RecordBytes, rec[li])
			sum += rec[li]
		}
		if bi == 0 {
			fixed = r.storage.FileBytes - sum
		}
		for li, name := range e.layers {
			s, err := e.measure(e.quantConfig(map[string]int{name: o.bits}, chosenA), map[string]float64{name: o.scale}, false)
			if err != nil {
				return nil, err
			}
			L := &res.Layers[li]
			L.Noise, L.SoloSQNR, L.SoloAcc = append(L.Noise, s.noise), append(L.SoloSQNR, e.sqnr(s.noise)), append(L.SoloAcc, s.acc)
		}
		logf("mixed: W%d (weight steps x%g) measured: every layer at it, %d bytes", o.bits, o.scale, r.storage.FileBytes)
	}
	for li := range e.layers {
		L := &res.Layers[li]
		L.Weights = weightsOf(fm, li)
	}

	// Every assignment's estimate; the Pareto frontier (estimated bytes up, noise down).
	type est struct {
		idx   []int
		bytes int
		noise float64
	}
	n := 1
	for range e.layers {
		n *= len(opts)
		if n > maxCombinations {
			return nil, fmt.Errorf("mixed: more than %d assignments of %d widths to %d layers: give fewer --wbits-choices or --wstep-scales", maxCombinations, len(opts), len(e.layers))
		}
	}
	all := make([]est, 0, n)
	for c := range n {
		x := est{idx: make([]int, len(e.layers)), bytes: fixed}
		for li := range e.layers {
			x.idx[li] = c % len(opts)
			c /= len(opts)
			x.bytes += res.Layers[li].RecordBytes[x.idx[li]]
			x.noise += res.Layers[li].Noise[x.idx[li]]
		}
		all = append(all, x)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].bytes != all[j].bytes {
			return all[i].bytes < all[j].bytes
		}
		return all[i].noise < all[j].noise
	})
	var pareto []est
	for _, x := range all {
		if len(pareto) == 0 || x.noise < pareto[len(pareto)-1].noise {
			pareto = append(pareto, x)
		}
	}
	// Measure the frontier exactly: every point up to 48 (evenly spaced beyond that), and every
	// point the choice walks through.
	measurePoint := func(x est) (MixedPoint, error) {
		p := MixedPoint{WBits: map[string]int{}, WStepScale: map[string]float64{}, ABits: map[string]int{}, EstimatedBytes: x.bytes, EstimatedNoise: x.noise}
		for li, name := range e.layers {
			p.WBits[name], p.WStepScale[name] = opts[x.idx[li]].bits, opts[x.idx[li]].scale
			p.ABits[name] = chosenA[name]
		}
		r, err := e.measure(e.quantConfig(p.WBits, chosenA), p.WStepScale, true)
		if err != nil {
			return p, err
		}
		p.Bytes, p.Accuracy, p.SQNR = r.storage.FileBytes, r.acc, e.sqnr(r.noise)
		p.Fits = p.Bytes <= res.SearchBytes
		return p, nil
	}
	stride := max(1, (len(pareto)+47)/48)
	points := make([]*MixedPoint, len(pareto))
	for i := range pareto {
		if i%stride == 0 || i == len(pareto)-1 {
			p, err := measurePoint(pareto[i])
			if err != nil {
				return nil, err
			}
			points[i] = &p
		}
	}
	// Candidates: least estimated noise first (the frontier from its large end).
	var cands []int
	for i := len(pareto) - 1; i >= 0; i-- {
		if points[i] == nil {
			p, err := measurePoint(pareto[i])
			if err != nil {
				return nil, err
			}
			points[i] = &p
		}
		if points[i].Fits {
			cands = append(cands, i)
			if len(cands) > cfg.Retries {
				break
			}
		}
	}
	for _, p := range points {
		if p != nil {
			res.Frontier = append(res.Frontier, *p)
		}
	}
	if len(cands) == 0 {
		if err := saveMixed(cfg.Out, res); err != nil {
			return nil, err
		}
		return res, fmt.Errorf("mixed: no assignment of %v weight bits fits %d bytes (the smallest measured is %d bytes); the frontier is in %s",
			wch, res.SearchBytes, res.Frontier[0].Bytes, filepath.Join(cfg.Out, MixedFile))
	}

	// Fine-tune and export the best candidate; the next one if the file outgrew the budget.
	file := filepath.Join(cfg.Out, "model.qat")
	for attempt, ci := range cands {
		p := points[ci]
		res.Choice, res.Attempts = p, attempt+1
		res.LayerBits = layerBitsString(e.layers, p.WBits, p.ABits, len(e.layers)-1, e.quantConfig(nil, nil).LogitBits)
		logf("mixed: choice %s: %d bytes (exact, before fine-tuning), held-out PTQ accuracy %.2f%%, logits SQNR %s dB", res.LayerBits, p.Bytes, 100*p.Accuracy, DB(p.SQNR))
		tc := cfg.Train
		tc.From, tc.Out = cfg.From, cfg.Out
		tc.Quant = e.quantConfig(p.WBits, p.ABits)
		tc.Quant.Delay = cfg.Train.Quant.Delay
		if scaled(p.WStepScale) {
			// train.Run would initialize the steps itself: start it instead from a checkpoint
			// at epoch 0 holding the calibrated, scaled steps, as a resumed run.
			if err := e.startCheckpoint(tc, p.WStepScale); err != nil {
				return nil, err
			}
			tc.Resume = true
		}
		tr, err := train.Run(tc, opt)
		if err != nil {
			return nil, err
		}
		res.Train = tr
		ex, err := Run(Config{From: cfg.Out, Out: file, DataDir: cfg.Train.DataDir, TestLimit: cfg.Train.TestLimit, EvalBatch: cfg.Train.EvalBatch, Encoding: cfg.Encoding})
		if err != nil {
			return nil, err
		}
		res.Export, res.Bytes, res.TestAccuracy = ex, ex.Bytes, ex.IntAccuracy
		res.FitsBudget = ex.Bytes <= int64(cfg.BudgetBytes)
		res.Tried = append(res.Tried, MixedTry{LayerBits: res.LayerBits, WStepScale: p.WStepScale, SearchBytes: p.Bytes, Bytes: ex.Bytes, TestAccuracy: ex.IntAccuracy, FitsBudget: res.FitsBudget})
		if res.FitsBudget {
			break
		}
		logf("mixed: the fine-tuned file has %d bytes (integer accuracy %.2f%%), over the budget of %d", ex.Bytes, 100*ex.IntAccuracy, cfg.BudgetBytes)
	}
	for i := range res.Frontier {
		f := res.Frontier[i]
		res.Frontier[i].Chosen = f.Bytes == res.Choice.Bytes && maps2eq(f.WBits, res.Choice.WBits) && maps2eq(f.WStepScale, res.Choice.WStepScale)
	}
	if !res.FitsBudget {
		os.Remove(file)
		if err := saveMixed(cfg.Out, res); err != nil {
			return nil, err
		}
		return res, fmt.Errorf("mixed: after fine-tuning the file has %d bytes, over the budget of %d (removed): raise --margin", res.Bytes, cfg.BudgetBytes)
	}
	return res, saveMixed(cfg.Out, res)
}

func maps2eq[T comparable](a, b map[string]T) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// weightsOf returns the weight count of the li-th quantized layer of m.
func weightsOf(m *nn.Model, li int) int {
	return m.Quantized()[li].Weights().Size()
}

// layerBitsString writes an assignment as a --layer-bits value (the last layer's activation
// bits are the logit bits).
func layerBitsString(layers []string, w, a map[string]int, last, logitBits int) string {
	s := ""
	for i, name := range layers {
		ab := a[name]
		if i == last {
			ab = logitBits
		}
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%s=%d:%d", name, w[name], ab)
	}
	return s
}

// saveMixed writes res as MixedFile into dir, atomically.
func saveMixed(dir string, res *MixedResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, MixedFile)
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	})
}

// DB formats an SQNR in dB ("exact" for nil: no noise).
func DB(v *float64) string {
	if v == nil {
		return "exact"
	}
	return fmt.Sprintf("%.1f", *v)
}

// scaled reports whether any weight step is scaled.
func scaled(k map[string]float64) bool {
	for _, v := range k {
		if v != 1 {
			return true
		}
	}
	return false
}

// startCheckpoint writes tc.Out's checkpoint at epoch 0: the float parameters, with the steps and
// ranges calibrated as train.Run would (Calibrate on tc.CalibImages training images) and the
// weight steps scaled.
func (e *mixedEnv) startCheckpoint(tc train.Config, scales map[string]float64) error {
	if err := tc.Validate(); err != nil {
		return err
	}
	calib := *e
	calib.cfg.CalibImages = tc.CalibImages
	calib.batch = tc.EvalBatch
	m, gr, err := calib.calibrated(tc.Quant, scales)
	if err != nil {
		return err
	}
	defer gr.Close()
	m.SyncSteps()
	ck := &train.Checkpoint{Config: tc}
	ck.Params, ck.Ranges = checkpoint.Snapshot(m)
	ck.BN = checkpoint.SnapshotBN(m)
	ck.Compression = checkpoint.SnapshotCompression(m)
	ck.Steps = checkpoint.SnapshotSteps(m)
	if err := os.MkdirAll(tc.Out, 0o755); err != nil {
		return err
	}
	return train.SaveCheckpoint(filepath.Join(tc.Out, train.CheckpointFile), ck)
}
