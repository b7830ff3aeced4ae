package gateway

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// strictJSON is grpc-gateway's JSON marshaler with a decoder that refuses
// anything but white space after the body's JSON value: json.Decoder stops
// after the first value, so "{...}xyz" would otherwise pass, the rest
// silently ignored.
type strictJSON struct {
	*runtime.JSONPb
}

// NewDecoder implements runtime.Marshaler.
func (m strictJSON) NewDecoder(r io.Reader) runtime.Decoder {
	d := json.NewDecoder(r)
	value := runtime.DecoderWrapper{Decoder: d, UnmarshalOptions: m.UnmarshalOptions}
	return runtime.DecoderFunc(func(v any) error {
		if err := value.Decode(v); err != nil {
			return err
		}
		end := d.InputOffset()
		// The error must not wrap io.EOF: the generated handlers take that
		// for an empty body.
		if _, err := d.Token(); err != io.EOF {
			return fmt.Errorf("the request body goes on after its JSON value, which ends at byte %d; send exactly one JSON object", end)
		}
		return nil
	})
}
