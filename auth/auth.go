// Package auth mints and verifies the bearer tokens of the HTTP API: HS256
// JSON Web Tokens whose claims say who the caller is (sub), what it is in the
// loop (role) and which grid, street, department or district it acts for
// (org). See DESIGN.md §4.
package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whistle-city/whistle/incident"
)

// ErrUnauthorized is wrapped by every error Parse returns: the token is
// missing, malformed, wrongly signed, expired or carries unusable claims.
var ErrUnauthorized = errors.New("unauthorized")

// ErrNoSecret is returned by Sign and Parse when the secret is empty.
var ErrNoSecret = errors.New("auth: empty JWT secret")

// Claims are the claims of a Whistle token: sub, role and org, plus the
// registered claims exp and iat.
type Claims struct {
	// Sub names the person or system acting (JSON "sub").
	Sub string `json:"sub"`
	// Role is what the holder is in the loop (JSON "role").
	Role incident.Role `json:"role"`
	// Org is the grid, street, department or district code the holder acts
	// for (JSON "org").
	Org string `json:"org"`
	jwt.RegisteredClaims
}

// Actor returns the actor the claims describe.
func (c *Claims) Actor() incident.Actor {
	return incident.Actor{Sub: c.Sub, Role: c.Role, Org: c.Org}
}

// check reports whether the claims name a usable actor.
func (c *Claims) check() error {
	if !c.Role.Valid() {
		return fmt.Errorf("unknown role %q", c.Role)
	}
	if strings.TrimSpace(c.Org) == "" {
		return errors.New("empty org claim")
	}
	return nil
}

// Sign returns an HS256 token for actor a, issued now and expiring after ttl.
// It refuses an empty secret, a non-positive ttl, an unknown role and an empty
// org, so that every token it mints is one Parse accepts until it expires.
func Sign(secret []byte, a incident.Actor, ttl time.Duration) (string, error) {
	if len(secret) == 0 {
		return "", ErrNoSecret
	}
	if ttl <= 0 {
		return "", fmt.Errorf("auth: token ttl must be positive, got %s", ttl)
	}
	now := time.Now()
	c := &Claims{
		Sub: a.Sub, Role: a.Role, Org: a.Org,
		RegisteredClaims: jwt.RegisteredClaims{
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	if err := c.check(); err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

// Parse verifies token with secret and returns the actor it names. It accepts
// only HS256 (alg "none" and every other algorithm are refused), requires an
// unexpired exp claim, a known role and a non-empty org. Every error wraps
// ErrUnauthorized (and ErrNoSecret for an empty secret).
func Parse(secret []byte, token string) (incident.Actor, error) {
	c, err := ParseClaims(secret, token)
	if err != nil {
		return incident.Actor{}, err
	}
	return c.Actor(), nil
}

// ParseClaims verifies token exactly as Parse does and returns its claims
// (with exp, for a session that should end when the token does).
func ParseClaims(secret []byte, token string) (*Claims, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, ErrNoSecret)
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c,
		func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return &c, nil
}
