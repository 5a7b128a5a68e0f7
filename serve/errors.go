package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error codes of the API (SPEC.md §16). A client branches on the code, never
// on the message; the codes and their HTTP statuses are stable.
const (
	CodeNotFound         = "not_found"          // 404: no such endpoint, or no object of that kind and hash
	CodeMethod           = "method_not_allowed" // 405: anything but GET, HEAD (and OPTIONS with CORS)
	CodeNotAcceptable    = "not_acceptable"     // 406: Accept names no representation the endpoint has
	CodeBadRoot          = "bad_root"           // 400: a root that is not 64 lower-case hex digits
	CodeBadContract      = "bad_contract"       // 400: a contract id that is not 64 lower-case hex digits
	CodeBadHash          = "bad_hash"           // 400: an object hash that is not 64 lower-case hex digits
	CodeBadKind          = "bad_kind"           // 400: an object kind not in the list
	CodeBadNumber        = "bad_number"         // 400: an index, offset or length that is not a canonical decimal
	CodeOutOfRange       = "out_of_range"       // 400: a page or range outside the contract's memory or the tree
	CodeRangeTooLarge    = "range_too_large"    // 400: a range longer than the server's limit (at most 16 MiB)
	CodeResponseTooLarge = "response_too_large" // 400: the answer would exceed the server's response limit
	CodeURITooLong       = "uri_too_long"       // 414: the request target is longer than the limit
	CodeBodyNotAllowed   = "body_not_allowed"   // 413: a request with a body
	CodeUnknownRoot      = "unknown_root"       // 404: the root is not retained by this server
	CodeNoContract       = "no_contract"        // 404: no contract has the id under the root
	CodeBusy             = "busy"               // 503: too many requests or streams at once; retry after Retry-After
	CodeTimeout          = "timeout"            // 503: the request took longer than the server's limit
	CodeBadQuery         = "bad_query"          // 400: a query string (the API takes none: one URL per resource)
	CodeInternal         = "internal"           // 500: a store fault or a bug; the message says which
)

// apiError is an error answer: an HTTP status and a stable code.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// writeError writes e as {"error": {"code", "message"}}. Errors are never
// cached: an unknown root may be committed a moment later.
func writeError(w http.ResponseWriter, e *apiError) {
	body, _ := json.Marshal(struct {
		Error *apiError `json:"error"`
	}{e})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.Status)
	w.Write(append(body, '\n'))
}
