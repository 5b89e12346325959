package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/whistle-city/whistle/incident"
)

func TestDelegations(t *testing.T) {
	ctx := context.Background()
	now := t0
	s := newStore(t, &now)
	item := incident.Item{Code: "SR-004", Name: "违规户外广告", Tier: incident.TierStreet, Lead: "CG"}
	report := func(n int) incident.Report {
		return incident.Report{IncidentID: fmt.Sprintf("inc-%d", n), Category: "SR-004", Street: "FH", Description: "awning",
			Photos: []string{}, ReportedAt: t0, Reporter: "department:CG:li"}
	}
	deleg := func(n int, dept, street string) Delegation {
		return Delegation{ID: fmt.Sprintf("d-%d", n), At: t0.Add(time.Duration(n) * time.Minute), Department: dept,
			Actor: "department:" + dept + ":li", Item: "SR-004", Street: street, Note: "from 12345"}
	}

	d1, created, err := s.Delegate(ctx, deleg(1, "CG", "FH"), report(1), item, "k1")
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "inc-1", d1.IncidentID)
	in, err := s.Incident(ctx, Everything, "inc-1")
	require.NoError(t, err)
	require.Equal(t, "d-1", in.Delegation)

	// A retry with the same key answers the first delegation.
	again, created, err := s.Delegate(ctx, deleg(2, "CG", "FH"), report(2), item, "k1")
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, "d-1", again.ID)
	require.Equal(t, "inc-1", again.IncidentID)

	refused := deleg(3, "ZJ", "XS")
	refused.Reason = "department-tier"
	require.NoError(t, s.RecordRefusedDelegation(ctx, refused))
	_, _, err = s.Delegate(ctx, deleg(4, "CG", "XS"), report(4), item, "")
	require.NoError(t, err)

	all, next, err := s.Delegations(ctx, Everything, DelegationFilter{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"d-4", "d-3"}, delegationIDs(all))
	rest, next, err := s.Delegations(ctx, Everything, DelegationFilter{Limit: 2, Cursor: next})
	require.NoError(t, err)
	require.Equal(t, []string{"d-1"}, delegationIDs(rest))
	require.Empty(t, next)

	no := false
	got, _, err := s.Delegations(ctx, Everything, DelegationFilter{Accepted: &no})
	require.NoError(t, err)
	require.Equal(t, []string{"d-3"}, delegationIDs(got))
	got, _, err = s.Delegations(ctx, Everything, DelegationFilter{Street: "XS", Department: "CG"})
	require.NoError(t, err)
	require.Equal(t, []string{"d-4"}, delegationIDs(got))

	// A report that could not be queued is withdrawn with its delegation:
	// the client was told to retry, so the attempt did not happen.
	require.NoError(t, s.DeleteReceived(ctx, "inc-4"))
	got, _, err = s.Delegations(ctx, Everything, DelegationFilter{Street: "XS"})
	require.NoError(t, err)
	require.Equal(t, []string{"d-3"}, delegationIDs(got))

	_, _, err = s.Delegations(ctx, Everything, DelegationFilter{Cursor: "nonsense"})
	require.Equal(t, incident.CodeInvalid, incident.ErrorCode(err))
}

func delegationIDs(ds []Delegation) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}
