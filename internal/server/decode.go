package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBodyBytes is the largest request body accepted (64 KiB); larger is 413.
const MaxBodyBytes = 64 << 10

// readBody reads the whole body within MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errf(codeTooLarge, "the request body is larger than %d bytes", MaxBodyBytes)
	}
	if err != nil {
		return nil, errf(codeInvalidRequest, "the request body could not be read")
	}
	return body, nil
}

// decodeJSON decodes a JSON object body into v, refusing unknown fields,
// trailing data, other media types and bodies over MaxBodyBytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errf(codeInvalidRequest, "the body must be application/json")
		}
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

// decodeStrict decodes one JSON value, refusing unknown fields, duplicate
// names and trailing data, with a client-safe message.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errf(codeInvalidRequest, "malformed JSON body: %s", jsonErrorText(err))
	}
	if dec.More() {
		return errf(codeInvalidRequest, "malformed JSON body: data after the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errf(codeInvalidRequest, "malformed JSON body: data after the object")
	}
	return nil
}

// jsonErrorText describes a decoding error without echoing the input.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type.String())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "invalid JSON"
}
