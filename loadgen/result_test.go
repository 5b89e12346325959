package loadgen_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/loadgen"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(i + 1) // 1ms … 100ms
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", []time.Duration{ms(7)}, 99, ms(7)},
		{"p0 is the minimum", hundred, 0, ms(1)},
		{"p50 of 1..100", hundred, 50, ms(50)},
		{"p95 of 1..100", hundred, 95, ms(95)},
		{"p99 of 1..100", hundred, 99, ms(99)},
		{"p100 is the maximum", hundred, 100, ms(100)},
		{"p above 100 is clamped", hundred, 150, ms(100)},
		{"p below 0 is clamped", hundred, -5, ms(1)},
		{"nearest rank rounds up", []time.Duration{ms(1), ms(2), ms(3), ms(4)}, 50, ms(2)},
		{"p51 of four takes the third", []time.Duration{ms(1), ms(2), ms(3), ms(4)}, 51, ms(3)},
		{"p95 of ten is the tenth", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95, 10},
		{"p90 of ten is the ninth", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, loadgen.Percentile(tt.sorted, tt.p))
		})
	}
}

func TestSummarizeSortsACopy(t *testing.T) {
	in := []time.Duration{ms(30), ms(10), ms(20), ms(40)}
	l := loadgen.Summarize(in)
	assert.Equal(t, loadgen.Latency{Count: 4, P50: ms(20), P95: ms(40), P99: ms(40), Max: ms(40)}, l)
	assert.Equal(t, []time.Duration{ms(30), ms(10), ms(20), ms(40)}, in, "input must not be reordered")
	assert.Equal(t, loadgen.Latency{}, loadgen.Summarize(nil))
}

func sampleResult() *loadgen.Result {
	return &loadgen.Result{
		N: 100, Concurrency: 10, Wall: 4 * time.Second, Closed: 98, Failed: 2, TaskSignal: "nats",
		ReportToTask: loadgen.Latency{Count: 98, P50: 1500 * time.Microsecond, P95: ms(250), P99: 1250 * time.Millisecond, Max: 2 * time.Second},
		Loop:         loadgen.Latency{Count: 98, P50: ms(400), P95: ms(900), P99: ms(990), Max: 3 * time.Second},
		Errors:       map[string]int{"ack:http_409": 3, "report:http_503": 5, "verify:timeout": 3},
		Failures:     map[string]int{"verify:http_422": 2},
	}
}

func TestResultString(t *testing.T) {
	s := sampleResult().String()
	for _, want := range []string{
		"incidents    100 (concurrency 10, tasks seen by nats)\n",
		"wall time    4.00s\n",
		"closed       98 (24.5 incidents/s)\n",
		"failed       2\n",
		"report → task         1.5ms   250.0ms     1.25s     2.00s      98\n",
		"report → closed     400.0ms   900.0ms   990.0ms     3.00s      98\n",
		"  verify:http_422                  2\n",
	} {
		assert.Contains(t, s, want)
	}
	// Errors are listed most frequent first, ties by name.
	i503, i409, iTimeout := strings.Index(s, "report:http_503"), strings.Index(s, "ack:http_409"), strings.Index(s, "verify:timeout")
	require.True(t, i503 >= 0 && i409 >= 0 && iTimeout >= 0, s)
	assert.Less(t, i503, i409)
	assert.Less(t, i409, iTimeout)

	// The two latency rows line up with the header although "→" is wider in bytes.
	lines := strings.Split(s, "\n")
	var widths []int
	for _, l := range lines {
		if strings.HasPrefix(l, "latency") || strings.HasPrefix(l, "report →") {
			widths = append(widths, len([]rune(l)))
		}
	}
	require.Len(t, widths, 3, s)
	assert.Equal(t, widths[0], widths[1])
	assert.Equal(t, widths[0], widths[2])

	empty := (&loadgen.Result{N: 1, Concurrency: 1, TaskSignal: "poll", Failed: 1}).String()
	assert.Contains(t, empty, "closed       0 (0.0 incidents/s)")
	assert.NotContains(t, empty, "errors")
}

func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(sampleResult())
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, 100.0, got["n"])
	assert.Equal(t, 4000.0, got["wall_ms"])
	assert.Equal(t, 24.5, got["throughput_per_s"])
	assert.Equal(t, map[string]any{"count": 98.0, "p50_ms": 1.5, "p95_ms": 250.0, "p99_ms": 1250.0, "max_ms": 2000.0}, got["report_to_task"])
	assert.Equal(t, map[string]any{"verify:http_422": 2.0}, got["failures"])

	b, err = json.Marshal(&loadgen.Result{})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"errors":{}`)
}
