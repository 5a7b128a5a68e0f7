package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
)

// heads streams the head as server-sent events: one "head" event at once,
// then one each time the store's head changes (polled every PollInterval,
// so commits by any writer of the store are seen), with heartbeat comments
// in between. The stream ends after StreamDuration, when the client goes,
// or when the handler is closed; clients reconnect.
func (h *Handler) heads(w http.ResponseWriter, r *http.Request) {
	if _, ok := negotiate(r.Header.Get("Accept"), typeEvents); !ok {
		writeError(w, errorf(http.StatusNotAcceptable, CodeNotAcceptable, "this endpoint answers with %s", typeEvents))
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errorf(http.StatusInternalServerError, CodeInternal, "the server cannot stream"))
		return
	}
	select {
	case h.streams <- struct{}{}:
		defer func() { <-h.streams }()
	default:
		writeError(w, errorf(http.StatusServiceUnavailable, CodeBusy, "%d streams open; retry", h.cfg.MaxStreams))
		return
	}
	select {
	case <-h.done:
		writeError(w, errorf(http.StatusServiceUnavailable, CodeBusy, "server shutting down"))
		return
	default:
	}
	rc := http.NewResponseController(w)
	// Every write must finish within a heartbeat or two: a stalled reader
	// is dropped rather than holding a stream slot.
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(2*h.cfg.Heartbeat + time.Second)) }
	deadline()
	hd := w.Header()
	hd.Set("Content-Type", typeEvents)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: pass events through unbuffered
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, "retry: %d\n\n", h.cfg.PollInterval.Milliseconds()*4)
	fl.Flush()

	var last merkle.Hash
	sent := false
	poll := time.NewTicker(h.cfg.PollInterval)
	defer poll.Stop()
	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	end := time.NewTimer(h.cfg.StreamDuration)
	defer end.Stop()
	for {
		root, err := h.e.Head()
		if err != nil {
			fmt.Fprintf(w, "event: error\ndata: %s\n\n", mustJSON(errorf(http.StatusInternalServerError, CodeInternal, "head: %v", err)))
			fl.Flush()
			return
		}
		deadline()
		if !sent || root != last {
			fmt.Fprintf(w, "event: head\nid: %s\ndata: %s\n\n", root, mustJSON(headJSON(root)))
			fl.Flush()
			last, sent = root, true
		}
		select {
		case <-poll.C:
		case <-beat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
			fl.Flush()
		case <-end.C:
			return
		case <-h.done:
			return
		case <-r.Context().Done():
			return
		}
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
