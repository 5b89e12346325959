package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/whatif"
)

// whistle whatif on a seeded month with every acknowledgement deadline
// halved: the replay under the shipped rules gives the record back, and
// under the proposed ones acknowledgements turn late; as CSV the same
// comparison, one number per line; a bad month or file is refused.
func TestWhatifCommand(t *testing.T) {
	url := database(t)
	env := childEnv()
	r := run(t, env, 3*time.Minute, "seed", "--database-url", url, "--tasks", "3000", "--span", "720h", "--no-vacuum")
	require.Equal(t, 0, r.code, r.stderr)

	text := regexp.MustCompile(`ack: 1h\b`).ReplaceAllString(strings.ReplaceAll(string(jurisdiction.DefaultYAML()), "ack: 30m", "ack: 15m"), "ack: 30m")
	rules := filepath.Join(t.TempDir(), "half-ack.yaml")
	require.NoError(t, os.WriteFile(rules, []byte(text), 0o644))
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	month := time.Now().In(shanghai).AddDate(0, 0, -20).Format("2006-01")

	r = run(t, env, 3*time.Minute, "whatif", "--database-url", url, "--month", month, "--rules", rules, "--limit", "3", "--check")
	require.Equal(t, 0, r.code, r.stderr)
	var a whatif.Answer
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &a), r.stdout)
	assert.Equal(t, month, a.Month)
	assert.Positive(t, a.Incidents)
	assert.True(t, a.Identity.Holds, "%v", a.Identity.Differences)
	assert.Positive(t, a.Changes.FlipsByKind["ack: on_time → late"])
	assert.Len(t, a.Changes.Flips, 3)
	assert.NotEmpty(t, a.Current.Departments)
	assert.Contains(t, r.stdout, `"feedback":`, "the rows are not those of /v1/metrics/*")
	assert.Len(t, a.Proposed.Departments, len(a.Current.Departments))

	r = run(t, env, 3*time.Minute, "whatif", "--database-url", url, "--month", month, "--rules", rules, "--format", "csv")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	assert.Equal(t, "month,dimension,key,measure,current,proposed,change", lines[0])
	assert.Contains(t, r.stdout, month+",departments,CG,response_rate,")

	r = run(t, env, time.Minute, "whatif", "--database-url", url, "--month", "2026-13", "--rules", rules)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, `2026-13`)
	assert.Contains(t, r.stderr, `is not YYYY-MM`)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(text, "ack: 30m", "ack: soon", 1)), 0o644))
	r = run(t, env, time.Minute, "whatif", "--database-url", url, "--month", month, "--rules", bad)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "--rules")
}
