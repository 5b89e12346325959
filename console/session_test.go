package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

var testSecret = []byte("console-test-secret-0123456789")

// newTestConsole returns a console whose API answers every request with an
// empty page and counts the requests that reach it (the console's own
// guards are under test here; the journey through the real API is
// TestConsoleInBrowser's).
func newTestConsole(t *testing.T) (http.Handler, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":[],"next_cursor":""}`))
	})
	con, err := New(Config{API: api, Secret: testSecret, Jurisdiction: jurisdiction.Default})
	if err != nil {
		t.Fatal(err)
	}
	return Handler(con, api), &calls
}

func tokenFor(t *testing.T, role incident.Role, org string) string {
	t.Helper()
	tok, err := auth.Sign(testSecret, incident.Actor{Sub: "x", Role: role, Org: org}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func serve(h http.Handler, method, target string, body url.Values, cookies ...*http.Cookie) *http.Response {
	var r *http.Request
	if body != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(body.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignIn(t *testing.T) {
	h, _ := newTestConsole(t)

	// A visitor without a session goes to the form.
	res := serve(h, "GET", "/", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("GET / unsigned: %d %s, want 303 /login", res.StatusCode, res.Header.Get("Location"))
	}
	form := serve(h, "GET", "/login", nil)
	if csp := form.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	login := cookieNamed(form, loginCookie)
	if login == nil {
		t.Fatal("the sign-in form sets no CSRF cookie")
	}

	// Without the form's CSRF token the sign-in is refused.
	tok := tokenFor(t, incident.RoleDepartment, "CG")
	res = serve(h, "POST", "/login", url.Values{"token": {tok}}, login)
	if res.StatusCode != http.StatusForbidden || cookieNamed(res, sessionCookie) != nil {
		t.Fatalf("sign-in without CSRF: %d, session cookie %v", res.StatusCode, cookieNamed(res, sessionCookie))
	}
	// A bad token is refused.
	res = serve(h, "POST", "/login", url.Values{"token": {tok + "x"}, csrfField: {login.Value}}, login)
	if res.StatusCode != http.StatusUnauthorized || cookieNamed(res, sessionCookie) != nil {
		t.Fatalf("sign-in with a bad token: %d", res.StatusCode)
	}
	// A good one: an HttpOnly, SameSite=Strict session, to the role's home.
	res = serve(h, "POST", "/login", url.Values{"token": {tok}, csrfField: {login.Value}}, login)
	s := cookieNamed(res, sessionCookie)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/c/inbox" || s == nil {
		t.Fatalf("sign-in: %d %s, session %v", res.StatusCode, res.Header.Get("Location"), s)
	}
	if !s.HttpOnly || s.SameSite != http.SameSiteStrictMode || s.Value != tok {
		t.Errorf("session cookie %+v, want HttpOnly SameSite=Strict holding the token", s)
	}
	if strings.Contains(res.Header.Get("Location"), tok) {
		t.Error("the token travels in a URL")
	}
}

func TestGuards(t *testing.T) {
	h, calls := newTestConsole(t)
	tok := tokenFor(t, incident.RoleDepartment, "CG")
	session := &http.Cookie{Name: sessionCookie, Value: tok}
	csrf := (&Console{cfg: Config{Secret: testSecret}}).csrfFor(tok)

	// A page of another role is refused before the API is asked.
	res := serve(h, "GET", "/c/board", nil, session)
	if res.StatusCode != http.StatusForbidden || calls.Load() != 0 {
		t.Fatalf("a department on the street's board: %d, %d API calls", res.StatusCode, calls.Load())
	}
	// A command without the session's CSRF token never reaches the API.
	for _, form := range []url.Values{{}, {csrfField: {"forged"}}, {csrfField: {(&Console{cfg: Config{Secret: []byte("other")}}).csrfFor(tok)}}} {
		res = serve(h, "POST", "/c/cmd/ack/I-t1", form, session)
		if res.StatusCode != http.StatusForbidden || calls.Load() != 0 {
			t.Fatalf("a command with CSRF %q: %d, %d API calls", form.Get(csrfField), res.StatusCode, calls.Load())
		}
	}
	// With it, the command goes to the API's route for it, and succeeds.
	res = serve(h, "POST", "/c/cmd/ack/I-t1", url.Values{csrfField: {csrf}}, session)
	if res.StatusCode != http.StatusOK || calls.Load() != 1 || res.Header.Get("HX-Refresh") != "true" {
		t.Fatalf("a command with CSRF: %d, %d API calls", res.StatusCode, calls.Load())
	}
	// Signing out clears the session.
	res = serve(h, "POST", "/logout", url.Values{csrfField: {csrf}}, session)
	if c := cookieNamed(res, sessionCookie); res.StatusCode != http.StatusSeeOther || c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign-out: %d, cookie %+v", res.StatusCode, c)
	}
	// An expired token is no session.
	old, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &auth.Claims{Sub: "x", Role: incident.RoleDepartment, Org: "CG",
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Minute))}}).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	res = serve(h, "GET", "/c/inbox", nil, &http.Cookie{Name: sessionCookie, Value: old})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("an expired session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}
