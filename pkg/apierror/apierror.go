// Package apierror is the one error type the APIs answer with: an HTTP status, TorchServe's
// exception name and a message, rendered as {"code": N, "type": "...", "message": "..."}.
package apierror

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error.
type Error struct {
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// New builds an error with a formatted message.
func New(code int, typ, format string, args ...any) *Error {
	return &Error{Code: code, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// TorchServe's exception names.
const (
	TypeBadRequest         = "BadRequestException"
	TypeModelNotFound      = "ModelNotFoundException"
	TypeVersionNotFound    = "ModelVersionNotFoundException"
	TypeResourceNotFound   = "ResourceNotFoundException"
	TypeMethodNotAllowed   = "MethodNotAllowedException"
	TypeConflict           = "ConflictStatusException"
	TypeRequestTimeout     = "RequestTimeoutException"
	TypeServiceUnavailable = "ServiceUnavailableException"
	TypeInternal           = "InternalServerException"
	TypeTooLarge           = "RequestEntityTooLargeException"
	TypeInvalidModel       = "InvalidModelException"
	TypeDownload           = "DownloadArchiveException"
	TypeIllegalArgument    = "IllegalArgumentException"
	TypeInvalidKey         = "InvalidKeyException"
	TypeWorkflowNotFound   = "WorkflowNotFoundException"
	// TypeUnsupportedMedia is ts's, in TorchServe's style: a request body in an encoding the
	// server does not read (415).
	TypeUnsupportedMedia = "UnsupportedMediaTypeException"
	// TypeTooManyRequests is ts's: a request a model's full job queue turns away with 429
	// (job_queue_full_status) instead of TorchServe's 503.
	TypeTooManyRequests = "TooManyRequestsException"
	// TypeForbidden is ts's: a request to an API restricted to requests carrying a header
	// (Triton's --http-restricted-api) without it (403).
	TypeForbidden = "ForbiddenException"
)

// BadRequest is a 400 for a client mistake.
func BadRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, TypeBadRequest, format, args...)
}

// ModelNotFound is TorchServe's 404 for an unknown model.
func ModelNotFound(name string) *Error {
	return New(http.StatusNotFound, TypeModelNotFound, "Model not found: %s", name)
}

// WorkflowNotFound is TorchServe's 404 for an unknown workflow.
func WorkflowNotFound(name string) *Error {
	return New(http.StatusNotFound, TypeWorkflowNotFound, "Workflow not found: %s", name)
}

// VersionNotFound is TorchServe's 404 for an unknown version of a known model.
func VersionNotFound(name, version string) *Error {
	return New(http.StatusNotFound, TypeVersionNotFound, "Model version: %s does not exist for model: %s", version, name)
}

// ResourceNotFound is the 404 for an unknown path.
func ResourceNotFound() *Error {
	return New(http.StatusNotFound, TypeResourceNotFound, "Requested resource is not found, please refer to API document.")
}

// MethodNotAllowed is the 405 for a known path with the wrong method.
func MethodNotAllowed() *Error {
	return New(http.StatusMethodNotAllowed, TypeMethodNotAllowed, "Requested method is not allowed, please refer to API document.")
}

// Internal is a 500.
func Internal(format string, args ...any) *Error {
	return New(http.StatusInternalServerError, TypeInternal, format, args...)
}

// From returns err as an *Error: itself when it is one (or wraps one), otherwise a 500
// carrying its message.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal("%s", err.Error())
}
