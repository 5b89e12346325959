package open311_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
)

// BenchmarkIntake posts reports through Open311 and through POST
// /v1/reports side by side, on the same server (real PostgreSQL and NATS,
// no workflow): what the key check and the one-minute repeat check add to
// the intake. Each report is distinct.
//
//	go test -run '^$' -bench Intake -benchtime 2000x ./open311/
func BenchmarkIntake(b *testing.B) {
	e := newEnvWith(b, true)
	key := e.key("bench", nil, nil, 100_000, 0)
	tok, err := auth.Sign([]byte("open311-test"), incident.Actor{Sub: "12345", Role: incident.RoleIntake, Org: "hotline"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	b.Run("open311", func(b *testing.B) {
		for b.Loop() {
			n++
			res, err := http.PostForm(e.url+"/open311/v2/requests.json", url.Values{"api_key": {key}, "service_code": {"BIN"},
				"lat": {"29.32"}, "long": {"104.72"}, "description": {fmt.Sprintf("垃圾桶满了 %d", n)}})
			if err != nil || res.StatusCode != http.StatusOK {
				b.Fatalf("POST: %v %v", err, res.Status)
			}
			res.Body.Close()
		}
	})
	b.Run("v1", func(b *testing.B) {
		for b.Loop() {
			n++
			body, _ := json.Marshal(map[string]any{"category": "BIN", "description": fmt.Sprintf("垃圾桶满了 %d", n),
				"location": map[string]any{"lat": 29.32, "lng": 104.72}})
			req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/reports", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != http.StatusAccepted {
				b.Fatalf("POST: %v %v", err, res.Status)
			}
			res.Body.Close()
		}
	})
}
