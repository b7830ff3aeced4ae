package agents

import (
	"net/http"
)

// Middleware counts every request Identify attributes to an agent in t: its
// status and how long next took. Other requests pass through untouched.
// A handler that panics counts as a 500; the panic goes on up.
func Middleware(t *Tracker, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := Identify(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		start := t.now()
		sw := &statusWriter{ResponseWriter: w}
		finished := false
		defer func() {
			status := sw.status
			switch {
			case !finished:
				status = http.StatusInternalServerError
			case status == 0:
				status = http.StatusOK // nothing written: net/http sends 200
			}
			t.Observe(id, status, t.now().Sub(start))
		}()
		next.ServeHTTP(sw, r)
		finished = true
	})
}

// statusWriter remembers the status of a response. It implements
// http.Flusher, which streaming handlers (grpc-gateway's server streams)
// look for, and Unwrap, so http.ResponseController reaches the connection's
// other features.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx responses are interim (103 Early Hints); the final status follows.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what is buffered; a writer that cannot flush ignores it, as
// http.ResponseController.Flush would report.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
