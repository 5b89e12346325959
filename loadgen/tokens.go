package loadgen

import (
	"fmt"
	"sync"
	"time"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
)

// tokens mints and caches one token per role and organisation. It is safe
// for concurrent use.
type tokens struct {
	secret []byte
	ttl    time.Duration

	mu sync.Mutex
	m  map[incident.Actor]string
}

// get returns the token of the simulated user of role in org.
func (t *tokens) get(role incident.Role, org string) (string, error) {
	a := incident.Actor{Sub: "bench-" + string(role) + "-" + org, Role: role, Org: org}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok, ok := t.m[a]; ok {
		return tok, nil
	}
	tok, err := auth.Sign(t.secret, a, t.ttl)
	if err != nil {
		return "", fmt.Errorf("loadgen: token for %s %s: %w", role, org, err)
	}
	if t.m == nil {
		t.m = map[incident.Actor]string{}
	}
	t.m[a] = tok
	return tok, nil
}
