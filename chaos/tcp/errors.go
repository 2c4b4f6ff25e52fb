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
}

func (e *APIError) Error() string { return e.Message }

// The base errors keep Toxiproxy's messages (api.go in its repository) so
// clients that match on them keep working; details follow after a colon.
var (
	errBadRequestBody     = &APIError{"bad request body", http.StatusBadRequest}
	errMissingField       = &APIError{"missing required field", http.StatusBadRequest}
	errProxyNotFound      = &APIError{"proxy not found", http.StatusNotFound}
	errProxyAlreadyExists = &APIError{"proxy already exists", http.StatusConflict}
	errInvalidStream      = &APIError{"stream was invalid, can be either upstream or downstream", http.StatusBadRequest}
	errInvalidToxicType   = &APIError{"invalid toxic type", http.StatusBadRequest}
	errToxicAlreadyExists = &APIError{"toxic already exists", http.StatusConflict}
	errToxicNotFound      = &APIError{"toxic not found", http.StatusNotFound}
	errTooMany            = &APIError{"limit reached", http.StatusBadRequest}
	errListen             = &APIError{"cannot listen", http.StatusInternalServerError}
)

func apiErrorf(base *APIError, format string, args ...any) *APIError {
	return &APIError{base.Message + ": " + fmt.Sprintf(format, args...), base.Status}
}

func badBody(err error) *APIError { return apiErrorf(errBadRequestBody, "%v", err) }

func missingField(name string) *APIError { return apiErrorf(errMissingField, "%s", name) }
