package learner

import (
	"fmt"
	"runtime/debug"
	"sort"
	"strconv"
	"time"
)

// Retention says which retained snapshots the registry keeps. Tagged snapshots, every version
// that has been a champion by promotion (the champion history) and the current champion are
// kept for ever; of the others, the newest of each clock hour for Hourly, the newest of each UTC
// day for Daily, and always the newest snapshot. Everything else is deleted, metadata included.
type Retention struct {
	// Hourly is how long one snapshot an hour is kept (DefaultRetention: 48h).
	Hourly time.Duration
	// Daily is how long one snapshot a day is kept (DefaultRetention: 90 days).
	Daily time.Duration
}

// DefaultRetention keeps hourly snapshots for 48 hours and daily ones for 90 days.
var DefaultRetention = Retention{Hourly: 48 * time.Hour, Daily: 90 * 24 * time.Hour}

// Keep returns the versions of vs to keep as of now; keepers (tags aside) are kept whatever
// their age.
func (r Retention) Keep(vs []Version, keepers map[int64]bool, now time.Time) map[int64]bool {
	sorted := append([]Version(nil), vs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Version > sorted[j].Version })
	keep := map[int64]bool{}
	hours, days := map[int64]bool{}, map[int64]bool{}
	for i, v := range sorted {
		age := now.Sub(v.CreatedAt)
		h, d := v.CreatedAt.Unix()/3600, v.CreatedAt.Unix()/86400
		switch {
		case i == 0:
			hours[h], days[d], keep[v.Version] = true, true, true
		case len(v.Tags) > 0, keepers[v.Version]:
			keep[v.Version] = true
		case age <= r.Hourly:
			// An hour's snapshot also stands for its day.
			if !hours[h] {
				hours[h], days[d], keep[v.Version] = true, true, true
			}
		case age <= r.Daily:
			if !days[d] {
				days[d], keep[v.Version] = true, true
			}
		}
	}
	return keep
}

// MaxTagBytes bounds a snapshot tag.
const MaxTagBytes = 64

// ValidTag checks a snapshot tag: 1 to 64 bytes of letters, digits, '.', '_' and '-', not a
// number (that would read as a version) and not an RFC 3339 time (that would read as a point in
// time).
func ValidTag(tag string) error {
	if tag == "" || len(tag) > MaxTagBytes {
		return fmt.Errorf("tag must be 1 to %d bytes", MaxTagBytes)
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("tag %q: only letters, digits, '.', '_' and '-'", tag)
		}
	}
	if _, err := strconv.ParseInt(tag, 10, 64); err == nil {
		return fmt.Errorf("tag %q is a number: it would read as a version", tag)
	}
	if _, err := time.Parse(time.RFC3339, tag); err == nil {
		return fmt.Errorf("tag %q is a time: it would read as a point in time", tag)
	}
	return nil
}

// BinaryVersion is the running binary's version from its build info: the module version, with
// the VCS revision when the build recorded one.
func BinaryVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
