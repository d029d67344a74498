// Package atomicfile writes files so that a crash or a kill leaves either the old file or the
// new one, never a mix, and nothing of a failed write behind.
//
// WriteFile writes into a temporary file in the destination's directory, named
// "." + base + ".tmp" + digits (os.CreateTemp), syncs it, renames it over the destination and
// syncs the directory. On any error the temporary file is removed and the previous file (if
// any) is untouched. A process killed mid-write cannot remove its temporary file; the next
// WriteFile to the same path removes every such stale temporary file first (StaleTemps).
// Concurrent writers of one path are not supported: the last rename wins, and a writer may
// remove another's temporary file.
package atomicfile
