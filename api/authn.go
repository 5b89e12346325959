package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// securityScheme is the name of the bearer-token scheme in the OpenAPI
// document.
const securityScheme = "bearer"

// rolesKey is the huma.Operation metadata key listing the roles allowed to
// call an operation.
const rolesKey = "whistle.roles"

// actorKey is the context key of the authenticated actor.
type actorKey struct{}

// actorFrom returns the actor authenticated by authenticate for this request.
func actorFrom(ctx context.Context) incident.Actor {
	a, _ := ctx.Value(actorKey{}).(incident.Actor)
	return a
}

// secured marks op as needing a bearer token held by one of roles (none
// means any role), and documents both.
func secured(op huma.Operation, roles ...incident.Role) huma.Operation {
	op.Security = []map[string][]string{{securityScheme: {}}}
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[rolesKey] = roles
	who := "any role"
	if len(roles) > 0 {
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = "`" + string(r) + "`"
		}
		who = strings.Join(names, ", ")
	}
	op.Description = strings.TrimSpace(op.Description + "\n\nRoles: " + who + ".")
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	return op
}

// authenticate is the huma middleware that guards every secured operation:
// it verifies the bearer token (401 with WWW-Authenticate when missing or
// bad), checks the caller's role against the operation's roles (403), and
// puts the actor in the request context. It runs before the body is read.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op == nil || len(op.Security) == 0 {
		next(ctx)
		return
	}
	token, ok := bearerToken(ctx.Header("Authorization"))
	if !ok {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="whistle"`)
		s.writeProblem(ctx, newProblem(http.StatusUnauthorized, "an Authorization: Bearer <token> header is required"))
		return
	}
	a, err := auth.Parse(s.cfg.JWTSecret, token)
	if err != nil {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="whistle", error="invalid_token"`)
		s.writeProblem(ctx, newProblem(http.StatusUnauthorized, "invalid token: %v", err))
		return
	}
	if roles, _ := op.Metadata[rolesKey].([]incident.Role); len(roles) > 0 && !slices.Contains(roles, a.Role) {
		s.writeProblem(ctx, newProblem(http.StatusForbidden, "role %s may not call %s %s", a.Role, op.Method, op.Path))
		return
	}
	next(huma.WithValue(ctx, actorKey{}, a))
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header
// (the scheme is case-insensitive).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// writeProblem answers p from a middleware, outside a handler.
func (s *Server) writeProblem(ctx huma.Context, p *Problem) {
	for k, vs := range p.headers {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	if err := s.api.Marshal(ctx.BodyWriter(), "application/json", p); err != nil {
		s.log.Error("write problem", "err", err)
	}
}

// scopeOf is the read scope of the caller of ctx (store.ScopeOf): every
// read passes it to the store, which applies it.
func scopeOf(ctx context.Context) store.Scope { return store.ScopeOf(actorFrom(ctx)) }
