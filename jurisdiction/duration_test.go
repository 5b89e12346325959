package jurisdiction

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want Duration
		str  string
	}{
		{"90s", Duration{Clock: 90 * time.Second}, "1m30s"},
		{"2h", Duration{Clock: 2 * time.Hour}, "2h0m0s"},
		{"1h30m", Duration{Clock: 90 * time.Minute}, "1h30m0s"},
		{"0s", Duration{}, "0s"},
		{"0", Duration{}, "0s"},
		{"3wd", Duration{WorkDays: 3}, "3wd"},
		{"0wd", Duration{}, "0s"},
		{"1wd4h", Duration{WorkDays: 1, Clock: 4 * time.Hour}, "1wd4h0m0s"},
		{"-2h", Duration{Clock: -2 * time.Hour}, "-2h0m0s"},
		{"-1wd", Duration{WorkDays: -1}, "-1wd"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseDuration(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Fatalf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestParseDurationErrors(t *testing.T) {
	for _, in := range []string{"", "wd", "3 wd", "3d", "2 h", "abc", "1.5wd", "3wdx", "2hwd", "3WD", " 2h"} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		} else if !strings.Contains(err.Error(), "invalid duration") {
			t.Errorf("ParseDuration(%q) error %q does not say invalid duration", in, err)
		}
	}
}

func TestDurationPredicates(t *testing.T) {
	if !(Duration{}).IsZero() || WorkDays(1).IsZero() || Clock(time.Second).IsZero() {
		t.Fatal("IsZero wrong")
	}
	if !WorkDays(1).Positive() || (Duration{}).Positive() || Clock(-time.Second).Positive() || (Duration{WorkDays: 1, Clock: -time.Hour}).Positive() {
		t.Fatal("Positive wrong")
	}
}

func TestDurationJSONAndYAMLRoundTrip(t *testing.T) {
	sla := SLA{Ack: Clock(30 * time.Minute), Resolve: WorkDays(3), Feedback: Duration{WorkDays: 1, Clock: 4 * time.Hour}}

	b, err := json.Marshal(sla)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ack":"30m0s","resolve":"3wd","feedback":"1wd4h0m0s"}`; string(b) != want {
		t.Fatalf("JSON = %s, want %s", b, want)
	}
	var back SLA
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != sla {
		t.Fatalf("JSON round trip = %+v, want %+v", back, sla)
	}

	y, err := yaml.Marshal(sla)
	if err != nil {
		t.Fatal(err)
	}
	if want := "ack: 30m0s\nresolve: 3wd\nfeedback: 1wd4h0m0s\n"; string(y) != want {
		t.Fatalf("YAML = %q, want %q", y, want)
	}
	back = SLA{}
	if err := yaml.Unmarshal(y, &back); err != nil {
		t.Fatal(err)
	}
	if back != sla {
		t.Fatalf("YAML round trip = %+v, want %+v", back, sla)
	}

	// The forms people write by hand read the same way.
	back = SLA{}
	if err := yaml.Unmarshal([]byte("{ack: 30m, resolve: 3wd, feedback: 1wd4h}"), &back); err != nil {
		t.Fatal(err)
	}
	if back != sla {
		t.Fatalf("hand-written YAML = %+v, want %+v", back, sla)
	}
	if err := json.Unmarshal([]byte(`{"ack":"soon"}`), &back); err == nil {
		t.Fatal("JSON accepted a bad duration")
	}
	err = yaml.Unmarshal([]byte("ack: soon\nresolve: [1]\n"), &back)
	te, ok := err.(*yaml.TypeError)
	if !ok || len(te.Errors) != 2 {
		t.Fatalf("YAML with two bad durations: err = %v, want a TypeError with both", err)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90s", "2h", "1h30m", "3wd", "1wd4h", "-1wd-2h", "0", "1.5h", "wd", "300ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil {
			t.Fatalf("ParseDuration(%q) = %+v whose String %q does not parse: %v", s, d, d.String(), err)
		}
		if back != d {
			t.Fatalf("round trip of %q: %+v → %q → %+v", s, d, d.String(), back)
		}
		var u Duration
		if err := u.UnmarshalText([]byte(d.String())); err != nil || u != d {
			t.Fatalf("UnmarshalText(%q) = %+v, %v", d.String(), u, err)
		}
	})
}
