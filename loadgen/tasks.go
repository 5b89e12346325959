package loadgen

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/whistle-city/whistle/incident"
)

// TaskSubjects is the NATS subject the bench subscribes to: every task event
// of every department (DESIGN.md §5).
const TaskSubjects = "whistle.tasks.>"

// taskEvent is the part of a whistle.tasks.<department> message the bench reads.
type taskEvent struct {
	IncidentID string `json:"incident_id"`
	Type       string `json:"type"`
}

// sighting is when an incident's first task_created event arrived; done is
// closed at that moment.
type sighting struct {
	at   time.Time
	done chan struct{}
}

// taskWatch records, per incident, when its first task_created event
// arrived on NATS. An event may arrive before the report's 202 tells the
// bench the incident's id, so sightings are kept whether or not anyone
// waits for them yet; sightings of incidents the bench did not report (other
// traffic on the same server) stay until the run ends. It is safe for
// concurrent use.
type taskWatch struct {
	nc  *nats.Conn
	sub *nats.Subscription

	errs *counter // counts "nats:decode" for messages the bench cannot read

	mu   sync.Mutex
	seen map[string]*sighting
}

// watchTasks connects to url and subscribes to TaskSubjects.
func watchTasks(url string, errs *counter) (*taskWatch, error) {
	nc, err := nats.Connect(url, nats.Name("whistle-bench"), nats.Timeout(5*time.Second), nats.MaxReconnects(10))
	if err != nil {
		return nil, fmt.Errorf("loadgen: connect to NATS at %s: %w", url, err)
	}
	w := &taskWatch{nc: nc, errs: errs, seen: map[string]*sighting{}}
	w.sub, err = nc.Subscribe(TaskSubjects, w.onMsg)
	if err == nil {
		err = w.sub.SetPendingLimits(1<<20, 256<<20)
	}
	if err == nil {
		err = nc.Flush() // the subscription is live on the server before the first report
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("loadgen: subscribe to %s: %w", TaskSubjects, err)
	}
	return w, nil
}

func (w *taskWatch) onMsg(m *nats.Msg) {
	now := time.Now()
	var ev taskEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.IncidentID == "" {
		w.errs.add("nats:decode")
		return
	}
	if ev.Type != incident.EventTaskCreated {
		return
	}
	w.mu.Lock()
	s := w.entry(ev.IncidentID)
	if s.at.IsZero() {
		s.at = now
		close(s.done)
	}
	w.mu.Unlock()
}

// entry returns the sighting of incident id, creating it. w.mu is held.
func (w *taskWatch) entry(id string) *sighting {
	s, ok := w.seen[id]
	if !ok {
		s = &sighting{done: make(chan struct{})}
		w.seen[id] = s
	}
	return s
}

// signal returns a channel closed when incident id's first task_created
// event has arrived.
func (w *taskWatch) signal(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.entry(id).done
}

// firstTask returns when incident id's first task_created event arrived, if
// it has.
func (w *taskWatch) firstTask(id string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.seen[id]
	if !ok || s.at.IsZero() {
		return time.Time{}, false
	}
	return s.at, true
}

// forget drops what is known about incident id.
func (w *taskWatch) forget(id string) {
	w.mu.Lock()
	delete(w.seen, id)
	w.mu.Unlock()
}

// close unsubscribes and disconnects.
func (w *taskWatch) close() {
	_ = w.sub.Unsubscribe()
	w.nc.Close()
}
