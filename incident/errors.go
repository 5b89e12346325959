package incident

import (
	"errors"
	"fmt"
)

// Code classifies an error so that every layer maps it the same way: the API
// to an HTTP status, the workflow to a Temporal application error type.
type Code string

// Error codes. They are stable: they appear in problem+json `type` URIs and in
// Temporal failures recorded in workflow histories.
const (
	CodeInvalid   Code = "invalid"   // the input is malformed or violates a rule (400/422)
	CodeForbidden Code = "forbidden" // the actor may not do this (403)
	CodeNotFound  Code = "not_found" // no such incident or task (404)
	CodeConflict  Code = "conflict"  // the command does not fit the current state (409)
	CodeInternal  Code = "internal"  // anything else (500)
)

// Error is a domain error: a code, a human message, and where it applies.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Field names the offending input field for CodeInvalid.
	Field string `json:"field,omitempty"`
	// Status is the incident's or task's current status for CodeConflict.
	Status string `json:"status,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a CodeInvalid error naming field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns a CodeConflict error carrying the current status.
func Conflict(status string, format string, args ...any) *Error {
	return &Error{Code: CodeConflict, Status: status, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the Code of an *Error anywhere in its
// chain, "" for nil and CodeInternal for anything else.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
