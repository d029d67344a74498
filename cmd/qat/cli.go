package main

// Command-line conventions of qat (and the same in cmd/infer):
//
//   - exit status 0 on success and for -h/--help, 2 for usage errors (unknown command or flag,
//     a value that does not parse, a setting out of range), 1 for failures;
//   - a usage error is one line on stderr naming the problem, then "see qat CMD -h";
//   - `qat CMD -h` prints a synopsis, the flags in groups, and examples;
//   - with --json, stdout carries only the JSON object; every human line goes to stderr;
//   - progress bars only when stderr is a terminal; otherwise one plain line per epoch, cycle
//     or stage.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/train"
	"golang.org/x/term"
)

// A usageError is a mistake in the command line: exit status 2, printed as one line.
type usageError struct {
	cmd string // "qat train", or "qat" for the command itself
	msg string
}

func (e *usageError) Error() string {
	return fmt.Sprintf("%s: %s; see %s -h", e.cmd, e.msg, e.cmd)
}

// usagef returns a usage error of the command whose flag set is fs (nil: qat itself).
func usagef(fs *flag.FlagSet, format string, args ...any) error {
	name := "qat"
	if fs != nil {
		name = fs.Name()
	}
	return &usageError{cmd: name, msg: fmt.Sprintf(format, args...)}
}

// exitCode prints err (if any) to stderr and returns the exit status for it.
func exitCode(err error, stderr io.Writer, prog string) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, oneLine(ue.Error()))
		return 2
	}
	fmt.Fprintf(stderr, "%s: %s\n", prog, oneLine(err.Error()))
	return 1
}

// dataMismatch turns a *data.MismatchError (the images' shape or classes do not fit the
// model) into a usage error of the command args name: the --data and --model or --from given
// do not go together.
func dataMismatch(args []string, err error) error {
	var me *data.MismatchError
	var ue *usageError
	if !errors.As(err, &me) || errors.As(err, &ue) {
		return err
	}
	cmd := "qat"
	if len(args) > 0 {
		cmd += " " + args[0]
	}
	return &usageError{cmd: cmd, msg: "the data (--data) does not fit the model: " + me.Msg}
}

// oneLine joins the lines of a message (gorgonia's errors can span several).
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// help is what `qat CMD -h` prints besides the flags.
type help struct {
	synopsis string     // "qat train [flags]" and one line of what it does
	groups   []flagList // flags in groups, in order; flags in no group are listed last
	examples []string
}

type flagList struct {
	title string
	names []string
}

// helps holds the help of every command, by flag-set name ("qat train").
var helps = map[string]help{}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("qat "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags and rejects stray positional arguments. -h/--help prints the command's
// help to the flag set's output and returns flag.ErrHelp (exit status 0); a bad flag or value
// returns a one-line *usageError.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", strings.Join(fs.Args(), " "))
	}
	return nil
}

// parseFlags is parse that leaves positional arguments to the caller.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard) // the flag package would print the whole usage on every error
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		printHelp(out, fs)
		return flag.ErrHelp
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		msg = "unknown flag " + f
	}
	return usagef(fs, "%s", msg)
}

// printHelp prints the synopsis, the flags in their groups and the examples of fs's command.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	h := helps[fs.Name()]
	if h.synopsis != "" {
		fmt.Fprintf(w, "usage: %s\n", h.synopsis)
	} else {
		fmt.Fprintf(w, "usage: %s [flags]\n", fs.Name())
	}
	listed := map[string]bool{}
	printFlag := func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%-28s %s%s\n", line, usage, def)
	}
	for _, g := range h.groups {
		fmt.Fprintf(w, "\n%s:\n", g.title)
		for _, n := range g.names {
			if f := fs.Lookup(n); f != nil && !listed[n] {
				printFlag(f)
				listed[n] = true
			}
		}
	}
	var rest []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] {
			rest = append(rest, f)
		}
	})
	if len(rest) > 0 {
		title := "other flags"
		if len(h.groups) == 0 {
			title = "flags"
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, f := range rest {
			printFlag(f)
		}
	}
	if len(h.examples) > 0 {
		fmt.Fprintf(w, "\nexamples:\n")
		for _, e := range h.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprintf(w, "\nexit status: 0 success or -h, 1 failure, 2 usage error. With --json stdout holds only the JSON object.\n")
}

// settingFlags names the flag of each numeric setting of the library's configurations
// (train.SettingError.Setting, after the prefixes of the stage are stripped).
var settingFlags = map[string]string{
	"Quant.WBits": "wbits", "Quant.ABits": "abits", "Quant.LogitBits": "logit-bits",
	"Quant.Decay": "ema-decay", "Quant.Delay": "quant-delay", "Epochs": "epochs",
	"StopAfter": "stop-after", "BatchSize": "batch", "LR": "lr", "Momentum": "momentum",
	"WeightDecay": "weight-decay", "TrainLimit": "train-limit", "TestLimit": "test-limit", "Val": "val",
	"CalibImages": "calib", "Augment": "augment", "EvalBatch": "eval-batch",
	"Target": "target", "Quality": "quality", "Cycles": "cycles", "RetrainEpochs": "retrain-epochs",
	"Freq": "prune-freq", "LayerTargets": "layer-target", "K": "k", "LayerK": "layer-k",
	"MaxIter": "kmeans-iter", "Tolerance": "tolerance", "Sparsities": "sparsities",
	"batches": "batches", "rounds": "rounds", "paired": "paired", "images": "images",
	"Batches": "batches", "Rounds": "rounds", "Paired": "paired",
	"Images": "images", "Batch": "batch", "Bits": "bits", "Quant.Percentile": "percentile",
	// compress: the stages' own learning rates and epochs.
	"Prune.Train.LR": "prune-lr", "Cluster.Train.LR": "cluster-lr", "Cluster.Train.Epochs": "cluster-epochs",
	// Settings that the library's other errors name in parentheses ("(Train.From)").
	"From": "from", "Out": "out", "Resume": "resume",
}

// settingRefs matches the settings a library error names in parentheses: "(From)",
// "(Train.Resume, Train.StopAfter)".
var settingRefs = regexp.MustCompile(`\(([A-Z][A-Za-z.]*(?:, [A-Z][A-Za-z.]*)*)\)`)

// withFlags rewrites the settings a library error names in parentheses into fs's flags
// ("(Train.From)" -> "(--from)"), where fs has a flag for each; other text is kept.
func withFlags(fs *flag.FlagSet, msg string) string {
	return settingRefs.ReplaceAllStringFunc(msg, func(ref string) string {
		names := strings.Split(ref[1:len(ref)-1], ", ")
		for i, n := range names {
			f := flagOf(fs, n)
			if f == "" {
				return ref
			}
			names[i] = "--" + f
		}
		return "(" + strings.Join(names, ", ") + ")"
	})
}

// flagOf returns the flag of fs that sets setting ("" if none).
func flagOf(fs *flag.FlagSet, setting string) string {
	base, _, _ := strings.Cut(setting, "[")
	candidates := []string{base}
	for _, p := range []string{"Prune.", "Cluster."} {
		if s, ok := strings.CutPrefix(base, p); ok {
			candidates = append(candidates, s)
			base = s
		}
	}
	if s, ok := strings.CutPrefix(base, "Train."); ok {
		candidates = append(candidates, s)
	}
	for _, c := range candidates {
		if name, ok := settingFlags[c]; ok && fs.Lookup(name) != nil {
			return name
		}
	}
	return ""
}

// invalid turns an error of a configuration's Validate into a usage error of fs's command:
// a *train.SettingError names the flag that sets it (and the setting, where a configuration
// file may also set it), any other error is kept as it is.
func invalid(fs *flag.FlagSet, err error) error {
	if err == nil {
		return nil
	}
	var se *train.SettingError
	if errors.As(err, &se) {
		if name := flagOf(fs, se.Setting); name != "" {
			msg := fmt.Sprintf("--%s = %v: allowed %s", name, se.Value, se.Allowed)
			if fs.Lookup("config") != nil {
				msg += fmt.Sprintf(" (setting %s)", configKey(se.Setting))
			}
			return usagef(fs, "%s", msg)
		}
		if fs.Lookup("config") != nil {
			// A setting without a flag of its own comes from the --config file: name its key.
			return usagef(fs, "--config: %s = %v: allowed %s", configKey(se.Setting), se.Value, se.Allowed)
		}
	}
	// The package prefix of a configuration's own error says nothing to a user of the command.
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "train: "), "export: ")
	return usagef(fs, "%s", withFlags(fs, msg))
}

// configKey returns the key path in a --config file (export.PipelineConfig's JSON) of a
// setting named by its Go fields: "Prune.Train.BatchSize" -> "prune.train.batch_size",
// "Prune.LayerTargets[fc1]" -> "prune.layer_targets[fc1]". Names that are not fields are kept.
func configKey(setting string) string {
	t := reflect.TypeOf(export.PipelineConfig{})
	parts := strings.Split(setting, ".")
	for i, p := range parts {
		name, index, _ := strings.Cut(p, "[")
		if t.Kind() != reflect.Struct {
			break
		}
		f, ok := t.FieldByName(name)
		if !ok {
			break
		}
		if key, _, _ := strings.Cut(f.Tag.Get("json"), ","); key != "" {
			parts[i] = key
			if index != "" {
				parts[i] += "[" + index
			}
		}
		t = f.Type
	}
	return strings.Join(parts, ".")
}

// isTerminal reports whether w is a terminal (progress bars are drawn only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// output returns where a command prints its human-readable lines: stdout, or stderr with
// --json (stdout then carries only the JSON object).
func output(asJSON bool, stdout, stderr io.Writer) io.Writer {
	if asJSON {
		return stderr
	}
	return stdout
}

// progress returns the writer for progress bars: stderr when it is a terminal and not quiet.
func progress(quiet bool, stderr io.Writer) io.Writer {
	if quiet || !isTerminal(stderr) {
		return nil
	}
	return stderr
}
