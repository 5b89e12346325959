package jurisdiction

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is an SLA or escalation length: clock time ("90s", "2h",
// "1h30m", any form time.ParseDuration accepts) or working days ("3wd").
// Working days are turned into a deadline by Calendar.Add; clock time is
// added as is. A Duration may carry both (written "1wd4h": the working days
// are counted first, then the clock time added), though files normally use
// one or the other.
type Duration struct {
	Clock    time.Duration
	WorkDays int
}

// Clock returns a Duration of clock time d.
func Clock(d time.Duration) Duration { return Duration{Clock: d} }

// WorkDays returns a Duration of n working days.
func WorkDays(n int) Duration { return Duration{WorkDays: n} }

// ParseDuration parses a clock duration in Go syntax ("90s", "2h", "1h30m")
// or a number of working days ("3wd"), optionally followed by a clock
// duration ("1wd4h"). A sign is accepted (so validation can report
// "-2h" as not positive rather than as unreadable).
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return Duration{}, fmt.Errorf("invalid duration %q: empty", s)
	}
	var d Duration
	rest := s
	if i := strings.Index(s, "wd"); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return Duration{}, fmt.Errorf("invalid duration %q: want a whole number of working days before \"wd\", e.g. \"3wd\"", s)
		}
		d.WorkDays = n
		rest = s[i+2:]
	}
	if rest != "" {
		c, err := time.ParseDuration(rest)
		if err != nil {
			return Duration{}, fmt.Errorf("invalid duration %q: want a Go duration (\"90s\", \"2h\", \"1h30m\") or working days (\"3wd\")", s)
		}
		d.Clock = c
	}
	return d, nil
}

// MustParseDuration is ParseDuration for constants; it panics on error.
func MustParseDuration(s string) Duration {
	d, err := ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// String formats d so that ParseDuration reads it back: the Go form of the
// clock time ("2h0m0s", "0s" for zero), or "3wd" for working days, or both
// ("1wd4h0m0s").
func (d Duration) String() string {
	if d.WorkDays == 0 {
		return d.Clock.String()
	}
	s := strconv.Itoa(d.WorkDays) + "wd"
	if d.Clock != 0 {
		s += d.Clock.String()
	}
	return s
}

// IsZero reports whether d is zero (no clock time and no working days).
func (d Duration) IsZero() bool { return d.Clock == 0 && d.WorkDays == 0 }

// Positive reports whether d is longer than zero: not zero and neither part
// negative.
func (d Duration) Positive() bool { return !d.IsZero() && d.Clock >= 0 && d.WorkDays >= 0 }

// Negative reports whether either part of d is below zero.
func (d Duration) Negative() bool { return d.Clock < 0 || d.WorkDays < 0 }

// approx orders durations for validation only: a working day counts as 24 h.
func (d Duration) approx() time.Duration {
	return time.Duration(d.WorkDays)*24*time.Hour + d.Clock
}

// MarshalText encodes d as String does; JSON and YAML use it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes what ParseDuration accepts; JSON uses it.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML decodes a YAML scalar with UnmarshalText. On failure it
// returns a *yaml.TypeError naming the line and column, so a YAML decoder
// carries on and reports every bad duration of a file, not just the first.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: invalid duration: want a scalar such as \"2h\" or \"3wd\"", n.Line, n.Column)}}
	}
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: %v", n.Line, n.Column, err)}}
	}
	return nil
}
