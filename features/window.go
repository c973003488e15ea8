package features

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is a length of event time: an aggregate's window, or a tile's resolution. In YAML and in
// feature names it is written as a whole number of days, hours, minutes or seconds ("7d", "24h",
// "5m", "30s"); Go duration strings ("1h30m") are accepted on input as well.
type Window time.Duration

// ParseWindow parses "7d", "24h", "5m", "90s" or any time.ParseDuration string.
func ParseWindow(s string) (Window, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.ParseInt(n, 10, 64)
		if err != nil || d < 0 || d > 106751 {
			return 0, fmt.Errorf("window %q: want a whole number of days such as 7d", s)
		}
		return Window(time.Duration(d) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("window %q: want a duration such as 5m, 1h, 24h or 7d", s)
	}
	return Window(d), nil
}

// String names w the way feature names use it: days from 2 days up ("7d"), otherwise hours, minutes
// or seconds when whole ("24h", "5m", "30s"), otherwise Go's duration syntax.
func (w Window) String() string {
	d := time.Duration(w)
	switch {
	case d <= 0:
		return "0s"
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// Duration returns w as a time.Duration.
func (w Window) Duration() time.Duration { return time.Duration(w) }

// MarshalText writes w as String does.
func (w Window) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText reads w as ParseWindow does (YAML and JSON use it).
func (w *Window) UnmarshalText(b []byte) error {
	v, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}
