package bus

import "errors"

// permanentError marks a handler error that no redelivery can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that Consume dead-letters the message at once
// instead of redelivering it (e.g. undecodable JSON, an unknown category).
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was made by
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// ErrConsumerStopped is returned by Consume when the consumer stopped on its
// own before ctx was done: the connection was closed or the consumer deleted.
var ErrConsumerStopped = errors.New("bus: consumer stopped")
