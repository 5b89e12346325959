package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of sorted, which must
// be in ascending order, by the nearest-rank method: the smallest sample such
// that at least p% of the samples are less than or equal to it. It returns 0
// for no samples; p below 0 or above 100 is clamped.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	p = math.Max(0, math.Min(100, p))
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// Latency summarises a set of latency samples.
type Latency struct {
	Count int           // how many samples
	P50   time.Duration // median
	P95   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// Summarize returns the count, p50, p95, p99 and maximum of samples, which
// it does not modify.
func Summarize(samples []time.Duration) Latency {
	s := slices.Clone(samples)
	slices.Sort(s)
	l := Latency{Count: len(s)}
	if len(s) > 0 {
		l.P50, l.P95, l.P99, l.Max = Percentile(s, 50), Percentile(s, 95), Percentile(s, 99), s[len(s)-1]
	}
	return l
}

// MarshalJSON encodes the latency with its durations in milliseconds:
// {"count","p50_ms","p95_ms","p99_ms","max_ms"}.
func (l Latency) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count int     `json:"count"`
		P50   float64 `json:"p50_ms"`
		P95   float64 `json:"p95_ms"`
		P99   float64 `json:"p99_ms"`
		Max   float64 `json:"max_ms"`
	}{l.Count, ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max)})
}

// Result is what a run measured.
type Result struct {
	RunID       string        // Config.RunID: finds the run's reports afterwards
	N           int           // incidents the run was asked to push through
	Concurrency int           // incidents in flight at once
	Wall        time.Duration // from the first report to the last incident settled
	Closed      int           // incidents that reached status closed
	Failed      int           // incidents that did not (N = Closed + Failed)
	// TaskSignal is how task creation was observed: "nats" (task_created
	// events on whistle.tasks.>) or "poll" (GET /v1/incidents/{id}).
	TaskSignal string
	// ReportToTask is the latency from sending a report (its first attempt)
	// to its first task being created, over closed incidents: until the
	// task_created event arrived on NATS when TaskSignal is "nats", until a
	// read of the incident first showed the task when it is "poll".
	ReportToTask Latency
	// Loop is the latency from the report's 202 Accepted to the answer that
	// showed the incident closed, over closed incidents.
	Loop Latency
	// Errors counts every failed request by "step:kind" (e.g. "ack:http_503",
	// "report:timeout"), including those that were retried and succeeded.
	Errors map[string]int
	// Failures counts, by "step:kind", what made each failed incident fail.
	Failures map[string]int
}

// Throughput is the closed incidents per second of wall time.
func (r *Result) Throughput() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Closed) / r.Wall.Seconds()
}

// String formats the result as a small report for a terminal.
func (r *Result) String() string {
	var b strings.Builder
	run := ""
	if r.RunID != "" {
		run = ", run " + r.RunID
	}
	fmt.Fprintf(&b, "incidents    %d (concurrency %d, tasks seen by %s%s)\n", r.N, r.Concurrency, r.TaskSignal, run)
	fmt.Fprintf(&b, "wall time    %s\n", fmtDur(r.Wall))
	fmt.Fprintf(&b, "closed       %d (%.1f incidents/s)\n", r.Closed, r.Throughput())
	fmt.Fprintf(&b, "failed       %d\n", r.Failed)
	fmt.Fprintf(&b, "\n%-17s %9s %9s %9s %9s %7s\n", "latency", "p50", "p95", "p99", "max", "n")
	for _, row := range []struct {
		name string
		l    Latency
	}{{"report → task", r.ReportToTask}, {"report → closed", r.Loop}} {
		// %-17s pads by bytes; the arrow is 3 bytes but one column.
		fmt.Fprintf(&b, "%s%s %9s %9s %9s %9s %7d\n", row.name, strings.Repeat(" ", max(0, 17-len([]rune(row.name)))),
			fmtDur(row.l.P50), fmtDur(row.l.P95), fmtDur(row.l.P99), fmtDur(row.l.Max), row.l.Count)
	}
	writeCounts(&b, "errors (every failed request, retried or not)", r.Errors)
	writeCounts(&b, "failures (why incidents failed)", r.Failures)
	return b.String()
}

// MarshalJSON encodes the result for machines: durations in milliseconds,
// throughput per second, error maps never null.
func (r *Result) MarshalJSON() ([]byte, error) {
	nz := func(m map[string]int) map[string]int {
		if m == nil {
			return map[string]int{}
		}
		return m
	}
	return json.Marshal(struct {
		N            int            `json:"n"`
		Concurrency  int            `json:"concurrency"`
		WallMS       float64        `json:"wall_ms"`
		Closed       int            `json:"closed"`
		Failed       int            `json:"failed"`
		Throughput   float64        `json:"throughput_per_s"`
		TaskSignal   string         `json:"task_signal"`
		ReportToTask Latency        `json:"report_to_task"`
		Loop         Latency        `json:"loop"`
		Errors       map[string]int `json:"errors"`
		Failures     map[string]int `json:"failures"`
	}{r.N, r.Concurrency, ms(r.Wall), r.Closed, r.Failed, r.Throughput(), r.TaskSignal,
		r.ReportToTask, r.Loop, nz(r.Errors), nz(r.Failures)})
}

// writeCounts writes a titled block of counts, most frequent first, or
// nothing when there are none.
func writeCounts(b *strings.Builder, title string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, c string) int {
		if m[a] != m[c] {
			return m[c] - m[a]
		}
		return strings.Compare(a, c)
	})
	fmt.Fprintf(b, "\n%s\n", title)
	for _, k := range keys {
		fmt.Fprintf(b, "  %-32s %d\n", k, m[k])
	}
}

// fmtDur formats d for the table: µs below a millisecond, ms with one
// decimal below a second, seconds with two decimals above.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return fmt.Sprintf("%.1fms", ms(d))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// ms returns d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
