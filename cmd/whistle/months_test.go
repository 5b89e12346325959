package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/store"
)

// whistle months on a freshly migrated database lists this month and the
// next two, empty; on a database it cannot reach it fails with the reason.
func TestMonthsCommand(t *testing.T) {
	url := database(t)
	env := childEnv()
	r := run(t, env, time.Minute, "migrate", "--database-url", url)
	require.Equal(t, 0, r.code, r.stderr)

	r = run(t, env, time.Minute, "months", "--database-url", url, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var months []store.MonthPartition
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &months), r.stdout)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	now := time.Now().In(shanghai)
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, shanghai)
	var got []string
	for _, m := range months {
		got = append(got, m.Month.Format("2006-01"))
		assert.Zero(t, m.Incidents)
		assert.Positive(t, m.Bytes)
	}
	assert.Equal(t, []string{first.Format("2006-01"), first.AddDate(0, 1, 0).Format("2006-01"),
		first.AddDate(0, 2, 0).Format("2006-01")}, got)
	require.NotEmpty(t, months)
	assert.True(t, first.Equal(months[0].From), "%s starts at %s", got[0], months[0].From)

	r = run(t, env, time.Minute, "months", "--database-url", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "store: ping")
}
