package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/incident"
)

// settle is how long the event stream waits after an event for more before
// it tells the page: a burst of escalations becomes one reload.
const settle = 150 * time.Millisecond

// events is a server-sent event stream: "changed" whenever an escalation or
// a task event the person may see arrives on NATS (the subjects of the
// WHISTLE_EVENTS stream, read by core subscriptions: nothing is stored or
// acknowledged for a browser). A street hears its own street's, a
// department its own tasks', district and admin everything. The page then
// reloads its rows; nothing polls.
func (con *Console) events(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	fl, ok := w.(http.Flusher)
	if !ok || con.cfg.Conn == nil {
		http.Error(w, "live events are not available", http.StatusNotImplemented)
		return
	}
	var subjects []string
	keep := func(bus.Event) bool { return true }
	switch s.actor.Role {
	case incident.RoleStreet:
		street := s.actor.Org
		subjects = []string{bus.EscalationSubject(street), bus.SubjectTasks + "*"}
		keep = func(e bus.Event) bool { return e.Street == street }
	case incident.RoleDepartment:
		subjects = []string{bus.TaskSubject(s.actor.Org)}
	default:
		subjects = []string{bus.SubjectEscalations + "*", bus.SubjectTasks + "*"}
	}
	ch := make(chan *nats.Msg, 256)
	for _, subj := range subjects {
		sub, err := con.cfg.Conn.ChanSubscribe(subj, ch)
		if err != nil {
			http.Error(w, "subscribe: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	fl.Flush()

	ping := time.NewTicker(25 * time.Second) // keeps proxies from closing an idle stream
	defer ping.Stop()
	var fire <-chan time.Time
	for {
		select {
		case <-r.Context().Done():
			return
		case m := <-ch:
			var e bus.Event
			if json.Unmarshal(m.Data, &e) != nil || !keep(e) {
				continue
			}
			if fire == nil {
				fire = time.After(settle)
			}
		case <-fire:
			fire = nil
			fmt.Fprint(w, "event: changed\ndata: {}\n\n")
			fl.Flush()
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		}
	}
}
