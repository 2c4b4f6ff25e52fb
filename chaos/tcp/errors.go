package tcp

import (
	"fmt"
	"net/http"
)

// APIError is Toxiproxy's error body: {"error": "...", "status": 404}.
// Clients read both fields, so every refusal carries them.
type APIError struct {
	Message string `json:"error"`
	Status  int    `json:"status"`
	cause   error
}

func (e *APIError) Error() string { return e.Message }

// Unwrap gives the decoding error behind a bad body, so a caller reading a
// file can say where in it the problem is.
func (e *APIError) Unwrap() error { return e.cause }

// The base errors keep Toxiproxy's messages (api.go in its repository) so
// clients that match on them keep working; details follow after a colon.
var (
	errBadRequestBody     = &APIError{Message: "bad request body", Status: http.StatusBadRequest}
	errMissingField       = &APIError{Message: "missing required field", Status: http.StatusBadRequest}
	errProxyNotFound      = &APIError{Message: "proxy not found", Status: http.StatusNotFound}
	errProxyAlreadyExists = &APIError{Message: "proxy already exists", Status: http.StatusConflict}
	errInvalidStream      = &APIError{Message: "stream was invalid, can be either upstream or downstream", Status: http.StatusBadRequest}
	errInvalidToxicType   = &APIError{Message: "invalid toxic type", Status: http.StatusBadRequest}
	errToxicAlreadyExists = &APIError{Message: "toxic already exists", Status: http.StatusConflict}
	errToxicNotFound      = &APIError{Message: "toxic not found", Status: http.StatusNotFound}
	errTooMany            = &APIError{Message: "limit reached", Status: http.StatusBadRequest}
	errListen             = &APIError{Message: "cannot listen", Status: http.StatusInternalServerError}
)

func apiErrorf(base *APIError, format string, args ...any) *APIError {
	return &APIError{Message: base.Message + ": " + fmt.Sprintf(format, args...), Status: base.Status}
}

func badBody(err error) *APIError {
	e := apiErrorf(errBadRequestBody, "%v", err)
	e.cause = err
	return e
}

func missingField(name string) *APIError { return apiErrorf(errMissingField, "%s", name) }
