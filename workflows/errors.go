package workflows

import (
	"errors"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/whistle-city/whistle/incident"
)

// toApplicationError turns a domain error into a non-retryable Temporal
// application error whose type is the domain code and whose details carry the
// *incident.Error, so callers of an Update get it back intact.
func toApplicationError(err error) error {
	var e *incident.Error
	if !errors.As(err, &e) {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(e.Message, string(e.Code),
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{*e}})
}

// AsDomainError recovers the *incident.Error from an error returned by an
// Update of IncidentWorkflow. A workflow that does not exist gives
// CodeNotFound; one that has already finished gives CodeConflict (its status
// is not known here: the caller reads it from the read model). Any other
// error returns nil: it is an infrastructure failure, not a refusal.
func AsDomainError(err error) *incident.Error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		var e incident.Error
		if app.Details(&e) == nil && e.Code != "" {
			return &e
		}
		return &incident.Error{Code: incident.Code(app.Type()), Message: app.Error()}
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return incident.Errorf(incident.CodeNotFound, "no such incident")
	}
	if isWorkflowCompleted(err) {
		return incident.Errorf(incident.CodeConflict, "the incident is finished and takes no more commands")
	}
	return nil
}

func isWorkflowCompleted(err error) bool {
	var fp *serviceerror.FailedPrecondition
	if errors.As(err, &fp) {
		return true
	}
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "workflow execution already completed")
}
