package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// ProblemTypeBase prefixes the type URI of every problem the API answers:
// the type is ProblemTypeBase followed by one of the Problem codes below.
const ProblemTypeBase = "https://whistle.city/problems/"

// Problem codes: the last segment of a problem's type URI. They are stable;
// clients switch on them.
const (
	ProblemInvalid      = "invalid"      // 400 malformed request, 422 a field breaks a rule
	ProblemUnauthorized = "unauthorized" // 401 missing, malformed or expired token
	ProblemForbidden    = "forbidden"    // 403 the role or organisation may not do this
	ProblemNotFound     = "not_found"    // 404 no such incident, task, department or path
	ProblemConflict     = "conflict"     // 409 the command does not fit the current status
	ProblemTooLarge     = "too_large"    // 413 request body over the limit
	ProblemUnavailable  = "unavailable"  // 503 a backing service failed: retry later
	ProblemInternal     = "internal"     // 500 a bug
)

// problemTitles are the titles of the problem codes: one per type, as RFC 9457
// asks.
var problemTitles = map[string]string{
	ProblemInvalid:      "Invalid request",
	ProblemUnauthorized: "Unauthorized",
	ProblemForbidden:    "Forbidden",
	ProblemNotFound:     "Not found",
	ProblemConflict:     "Conflict",
	ProblemTooLarge:     "Request too large",
	ProblemUnavailable:  "Service unavailable",
	ProblemInternal:     "Internal error",
}

// Problem is an RFC 9457 problem detail, the body of every error response
// (content type application/problem+json). It implements huma.StatusError,
// and huma.HeadersError for the headers some problems carry (Retry-After,
// WWW-Authenticate).
type Problem struct {
	Type   string `json:"type" format:"uri" example:"https://whistle.city/problems/conflict" doc:"Stable problem type: https://whistle.city/problems/ followed by invalid, unauthorized, forbidden, not_found, conflict, too_large, unavailable or internal."`
	Title  string `json:"title" example:"Conflict" doc:"Short summary of the problem type."`
	Status int    `json:"status" example:"409" doc:"HTTP status code."`
	Detail string `json:"detail,omitempty" example:"task 0190…-t1 is acknowledged: only a task pending acknowledgement can be acknowledged" doc:"Human explanation of this occurrence."`
	// Instance is a URI reference naming this occurrence (unused for now).
	Instance string `json:"instance,omitempty" format:"uri-reference" doc:"URI reference of this occurrence."`
	// Errors names the offending fields of an invalid request.
	Errors []*huma.ErrorDetail `json:"errors,omitempty" doc:"For invalid requests: each offending field (location such as body.category or query.limit) and what is wrong with it."`
	// CurrentStatus is, for a conflict, the current status of the incident
	// or task the command did not fit.
	CurrentStatus string `json:"current_status,omitempty" example:"acknowledged" doc:"For conflicts: the current status of the incident or task."`

	headers http.Header
}

// Error returns the problem's detail.
func (p *Problem) Error() string { return p.Detail }

// GetStatus returns the HTTP status of the problem.
func (p *Problem) GetStatus() int { return p.Status }

// GetHeaders returns the headers to send with the problem.
func (p *Problem) GetHeaders() http.Header {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	return p.headers
}

// ContentType turns the JSON content type into application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// Code returns the problem code: the last segment of Type.
func (p *Problem) Code() string { return strings.TrimPrefix(p.Type, ProblemTypeBase) }

// withHeader sets a header to send with the problem and returns p.
func (p *Problem) withHeader(key, value string) *Problem {
	p.GetHeaders().Set(key, value)
	return p
}

// codeOf returns the problem code for an HTTP status.
func codeOf(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return ProblemUnauthorized
	case status == http.StatusForbidden:
		return ProblemForbidden
	case status == http.StatusNotFound:
		return ProblemNotFound
	case status == http.StatusConflict:
		return ProblemConflict
	case status == http.StatusRequestEntityTooLarge:
		return ProblemTooLarge
	case status == http.StatusServiceUnavailable:
		return ProblemUnavailable
	case status >= 500:
		return ProblemInternal
	default:
		return ProblemInvalid
	}
}

// newProblem returns a problem of the given status with a formatted detail.
func newProblem(status int, format string, args ...any) *Problem {
	code := codeOf(status)
	return &Problem{Type: ProblemTypeBase + code, Title: problemTitles[code], Status: status, Detail: fmt.Sprintf(format, args...)}
}

// invalidField returns a 422 problem naming one offending field at location
// (such as "body.category" or "query.limit").
func invalidField(location, format string, args ...any) *Problem {
	msg := fmt.Sprintf(format, args...)
	p := newProblem(http.StatusUnprocessableEntity, "%s", msg)
	p.Errors = []*huma.ErrorDetail{{Location: location, Message: msg}}
	return p
}

// conflict returns a 409 problem carrying the current status.
func conflict(current string, format string, args ...any) *Problem {
	p := newProblem(http.StatusConflict, format, args...)
	p.CurrentStatus = current
	return p
}

// newHumaError replaces huma.NewError, so that the errors huma itself
// produces (malformed JSON, schema validation, body too large, …) are
// Problems with a stable type like the ones the handlers return.
func newHumaError(status int, msg string, errs ...error) huma.StatusError {
	if status == 0 { // huma asks for an example error to build the schema
		return &Problem{}
	}
	p := newProblem(status, "%s", msg)
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d *huma.ErrorDetail
		if det, ok := err.(huma.ErrorDetailer); ok {
			c := *det.ErrorDetail()
			d = &c
		} else {
			d = &huma.ErrorDetail{Message: err.Error()}
		}
		fixLocation(d)
		p.Errors = append(p.Errors, d)
	}
	if p.Detail == "validation failed" && len(p.Errors) > 0 {
		p.Detail = summarize(p.Errors)
		if status == http.StatusBadRequest {
			p.Detail = "malformed request: " + p.Detail
		}
	}
	return p
}

// summarize joins error details into one detail line: "location: message; …".
func summarize(errs []*huma.ErrorDetail) string {
	parts := make([]string, len(errs))
	for i, d := range errs {
		parts[i] = d.Message
		if d.Location != "" {
			parts[i] = d.Location + ": " + d.Message
		}
	}
	return strings.Join(parts, "; ")
}

// fixLocation makes a huma error detail name the offending field: a missing
// required property is reported by huma at its parent, so the property is
// appended to the location; the raw body huma echoes for malformed JSON is
// dropped rather than sent back.
func fixLocation(d *huma.ErrorDetail) {
	const pre, post = "expected required property ", " to be present"
	if strings.HasPrefix(d.Message, pre) && strings.HasSuffix(d.Message, post) {
		d.Location += "." + strings.TrimSuffix(strings.TrimPrefix(d.Message, pre), post)
		d.Value = nil
	}
	if d.Location == "body" {
		if _, ok := d.Value.(string); ok {
			d.Value = nil
		}
	}
}

// fromDomain is the one place where an *incident.Error becomes an HTTP
// problem: invalid → 422 naming the field at in ("body" or "query"),
// forbidden → 403, not_found → 404, conflict → 409 with the current status,
// anything else → 500.
func fromDomain(e *incident.Error, in string) *Problem {
	switch e.Code {
	case incident.CodeInvalid:
		if e.Field == "" {
			return newProblem(http.StatusUnprocessableEntity, "%s", e.Message)
		}
		return invalidField(in+"."+e.Field, "%s", e.Message)
	case incident.CodeForbidden:
		return newProblem(http.StatusForbidden, "%s", e.Message)
	case incident.CodeNotFound:
		return newProblem(http.StatusNotFound, "%s", e.Message)
	case incident.CodeConflict:
		return conflict(e.Status, "%s", e.Message)
	default:
		return newProblem(http.StatusInternalServerError, "internal error")
	}
}

// fail turns an error from the store or elsewhere into the problem to
// answer: a Problem as it is, a domain error through fromDomain (naming
// fields at in), an unreachable database or a cancelled request as 503, anything else as a logged 500
// whose detail does not leak internals.
func (s *Server) fail(ctx context.Context, err error, in, doing string) error {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var de *incident.Error
	if errors.As(err, &de) {
		p = fromDomain(de, in)
		if p.Status >= 500 {
			s.log.ErrorContext(ctx, doing, "err", err)
		}
		return p
	}
	if store.IsUnavailable(err) {
		s.log.WarnContext(ctx, doing, "err", err)
		return unavailable("the database is unavailable, so could not %s; retry shortly", doing)
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.log.WarnContext(ctx, doing, "err", err)
		return unavailable("%s: timed out or cancelled", doing)
	}
	s.log.ErrorContext(ctx, doing, "err", err)
	return newProblem(http.StatusInternalServerError, "internal error while trying to %s", doing)
}

// unavailable returns a 503 problem asking the client to retry in a second.
func unavailable(format string, args ...any) *Problem {
	return newProblem(http.StatusServiceUnavailable, format, args...).withHeader("Retry-After", strconv.Itoa(1))
}
