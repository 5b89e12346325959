package auth_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
)

var secret = []byte("test-secret-0123456789")

func TestSignParseRoundTrip(t *testing.T) {
	a := incident.Actor{Sub: "wang", Role: incident.RoleGridWorker, Org: "FH-01-01"}
	tok, err := auth.Sign(secret, a, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := auth.Parse(secret, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got != a {
		t.Fatalf("Parse = %+v, want %+v", got, a)
	}
	// The claims are the contract: sub, role, org, exp, iat.
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"sub":"wang"`, `"role":"grid_worker"`, `"org":"FH-01-01"`, `"exp":`, `"iat":`} {
		if !strings.Contains(string(payload), k) {
			t.Errorf("payload %s lacks %s", payload, k)
		}
	}
}

func TestSignRefuses(t *testing.T) {
	ok := incident.Actor{Sub: "s", Role: incident.RoleStreet, Org: "FH"}
	cases := map[string]struct {
		secret []byte
		a      incident.Actor
		ttl    time.Duration
	}{
		"empty secret": {nil, ok, time.Hour},
		"zero ttl":     {secret, ok, 0},
		"bad role":     {secret, incident.Actor{Sub: "s", Role: "mayor", Org: "FH"}, time.Hour},
		"empty org":    {secret, incident.Actor{Sub: "s", Role: incident.RoleStreet}, time.Hour},
	}
	for name, c := range cases {
		if _, err := auth.Sign(c.secret, c.a, c.ttl); err == nil {
			t.Errorf("%s: Sign succeeded", name)
		}
	}
}

func TestParseRejects(t *testing.T) {
	now := time.Now()
	claims := func(role incident.Role, org string, exp time.Time) *auth.Claims {
		c := &auth.Claims{Sub: "x", Role: role, Org: org}
		c.IssuedAt = jwt.NewNumericDate(now)
		if !exp.IsZero() {
			c.ExpiresAt = jwt.NewNumericDate(exp)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := claims(incident.RoleStreet, "FH", now.Add(time.Hour))
	cases := map[string]string{
		"garbage":      "not.a.token",
		"empty":        "",
		"alg none":     sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good),
		"HS512":        sign(jwt.SigningMethodHS512, secret, good),
		"wrong secret": sign(jwt.SigningMethodHS256, []byte("other"), good),
		"expired":      sign(jwt.SigningMethodHS256, secret, claims(incident.RoleStreet, "FH", now.Add(-time.Minute))),
		"no exp":       sign(jwt.SigningMethodHS256, secret, claims(incident.RoleStreet, "FH", time.Time{})),
		"bad role":     sign(jwt.SigningMethodHS256, secret, claims("mayor", "FH", now.Add(time.Hour))),
		"empty org":    sign(jwt.SigningMethodHS256, secret, claims(incident.RoleStreet, " ", now.Add(time.Hour))),
	}
	for name, tok := range cases {
		_, err := auth.Parse(secret, tok)
		if !errors.Is(err, auth.ErrUnauthorized) {
			t.Errorf("%s: Parse error = %v, want ErrUnauthorized", name, err)
		}
	}
	if _, err := auth.Parse(secret, sign(jwt.SigningMethodHS256, secret, good)); err != nil {
		t.Errorf("control token refused: %v", err)
	}
	if _, err := auth.Parse(nil, sign(jwt.SigningMethodHS256, secret, good)); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("empty secret: Parse error = %v, want ErrUnauthorized", err)
	}
}
