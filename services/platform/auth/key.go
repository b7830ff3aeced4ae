package auth

import (
	"errors"
	"fmt"
	"strings"

	"buzhou.dev/platform/errs"
)

// Why a presented key was refused. The failed-auth throttle counts the
// reasons a guess gets (unknown, malformed); metrics and logs name them all.
const (
	ReasonMissing   = "missing"
	ReasonMalformed = "malformed"
	ReasonUnknown   = "unknown"
	ReasonExpired   = "expired"
	ReasonRevoked   = "revoked"
	// ReasonThrottled: the caller's address failed too often; the key was
	// refused without a check.
	ReasonThrottled = "throttled"
)

// Reasons returns every refusal reason, for bounded metric labels.
func Reasons() []string {
	return []string{ReasonMissing, ReasonMalformed, ReasonUnknown, ReasonExpired, ReasonRevoked, ReasonThrottled}
}

// ReasonTrailer is the trailer in which AuthenticateApiKey names the reason
// of a refusal, so that the other services' key checks know it too.
const ReasonTrailer = "buzhou-auth-reason"

// Refusal is a refused key: errs.ErrUnauthenticated with its reason.
type Refusal struct {
	Reason string
	msg    string
}

// Refuse returns a Refusal for reason whose message (what is wrong and how to
// fix it) is formatted from format and args.
func Refuse(reason, format string, args ...any) error {
	return &Refusal{Reason: reason, msg: fmt.Sprintf(format, args...)}
}

func (r *Refusal) Error() string { return errs.ErrUnauthenticated.Error() + ": " + r.msg }

// Unwrap makes a Refusal an errs.ErrUnauthenticated.
func (r *Refusal) Unwrap() error { return errs.ErrUnauthenticated }

// ReasonOf returns why err refused a key: a Refusal's reason, ReasonUnknown
// for any other errs.ErrUnauthenticated, "" for other errors.
func ReasonOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	if errors.Is(err, errs.ErrUnauthenticated) {
		return ReasonUnknown
	}
	return ""
}

// Key length limits. Made keys have 36 characters; operators choose the
// bootstrap and service secrets, which must be long enough not to be guessed.
const (
	MinConfiguredKeyLen = 32
	MaxKeyLen           = 256
)

// howToSend ends every refusal of a malformed header.
const howToSend = `send "Authorization: Bearer <key>" or "x-api-key: <key>"`

// PresentedKey returns the API key of a call from its Authorization and
// x-api-key header values (HTTP headers or gRPC metadata alike), "" when it
// presents none. Authorization wins when both are set. Only ASCII spaces and
// tabs around a value are trimmed; a key is printable ASCII without spaces,
// and anything else (invalid UTF-8, control characters, non-ASCII spaces) is
// refused as malformed rather than dropped or altered, so that every part of
// Buzhou sees the same key or none.
func PresentedKey(authorization, apiKey []string) (string, error) {
	if h, err := single("Authorization", authorization); err != nil || h != "" {
		if err != nil {
			return "", err
		}
		return parseAuthorization(h)
	}
	k, err := single("x-api-key", apiKey)
	if err != nil || k == "" {
		return "", err
	}
	if err := checkChars("x-api-key header", k); err != nil {
		return "", err
	}
	if strings.ContainsAny(k, " \t") {
		return "", Refuse(ReasonMalformed, "malformed x-api-key header: expected exactly one key, without spaces; %s", howToSend)
	}
	if err := checkLen("x-api-key header", k); err != nil {
		return "", err
	}
	return k, nil
}

// single returns the one non-blank value of a header, trimmed.
func single(name string, values []string) (string, error) {
	var got []string
	for _, v := range values {
		if v = trimBlanks(v); v != "" {
			got = append(got, v)
		}
	}
	switch len(got) {
	case 0:
		return "", nil
	case 1:
		return got[0], nil
	}
	return "", Refuse(ReasonMalformed, "malformed request: %d %s headers; %s, once", len(got), name, howToSend)
}

func trimBlanks(s string) string { return strings.Trim(s, " \t") }

// parseAuthorization parses an Authorization value (trimmed, not blank) of
// the form "Bearer <key>", the scheme in any case.
func parseAuthorization(h string) (string, error) {
	if err := checkChars("Authorization header", h); err != nil {
		return "", err
	}
	i := strings.IndexAny(h, " \t")
	if i < 0 {
		return "", Refuse(ReasonMalformed, "malformed Authorization header: missing scheme; %s", howToSend)
	}
	scheme, key := h[:i], trimBlanks(h[i:])
	if !strings.EqualFold(scheme, "Bearer") {
		return "", Refuse(ReasonMalformed, "malformed Authorization header: scheme %q is not supported; %s", truncate(scheme, 20), howToSend)
	}
	if key == "" || strings.ContainsAny(key, " \t") {
		return "", Refuse(ReasonMalformed, "malformed Authorization header: expected exactly one key after Bearer; %s", howToSend)
	}
	if err := checkLen("Authorization header", key); err != nil {
		return "", err
	}
	return key, nil
}

// CheckKey refuses, as malformed, a bare key (such as the one in an
// AuthenticateApiKey request) that no header could carry: empty, too long, or
// not printable ASCII without spaces.
func CheckKey(key string) error {
	if strings.ContainsAny(key, " \t") || key == "" {
		return Refuse(ReasonMalformed, "malformed API key: it is empty or holds spaces; %s", howToSend)
	}
	if err := checkChars("API key", key); err != nil {
		return err
	}
	return checkLen("API key", key)
}

// checkChars refuses a header value holding anything but printable ASCII,
// spaces and tabs. The message never repeats the value.
func checkChars(where, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 || c > 0x7e) && c != '\t' {
			return Refuse(ReasonMalformed, "malformed %s: byte %d (0x%02X) is not printable ASCII; API keys are printable ASCII, so check for a stray character "+
				"copied with the key, such as a non-breaking space or a line break; %s", where, i+1, c, howToSend)
		}
	}
	return nil
}

func checkLen(where, key string) error {
	if len(key) > MaxKeyLen {
		return Refuse(ReasonMalformed, "malformed %s: a key of %d characters is too long (API keys have at most %d); %s", where, len(key), MaxKeyLen, howToSend)
	}
	return nil
}

// truncate keeps messages short when a caller sends a huge value.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// CheckConfiguredKey checks a secret an operator sets in the variable env
// (BUZHOU_ADMIN_KEY, a service key): set, printable ASCII without spaces, at
// least 32 and at most 256 characters. Errors wrap errs.ErrInvalid and never
// repeat the secret.
func CheckConfiguredKey(env, secret string) error {
	const advice = "e.g. the output of `openssl rand -hex 32`"
	if secret == "" {
		return fmt.Errorf("%w: %s is not set; set it to a random secret of at least %d characters, %s", errs.ErrInvalid, env, MinConfiguredKeyLen, advice)
	}
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; c <= 0x20 || c > 0x7e {
			return fmt.Errorf("%w: %s contains spaces, control or non-ASCII characters (byte %d), which no header can carry; set it to printable ASCII, %s",
				errs.ErrInvalid, env, i+1, advice)
		}
	}
	switch {
	case len(secret) < MinConfiguredKeyLen:
		return fmt.Errorf("%w: %s has %d characters, too few to resist guessing; use at least %d random characters, %s",
			errs.ErrInvalid, env, len(secret), MinConfiguredKeyLen, advice)
	case len(secret) > MaxKeyLen:
		return fmt.Errorf("%w: %s has %d characters; keys have at most %d, %s", errs.ErrInvalid, env, len(secret), MaxKeyLen, advice)
	}
	return nil
}

// KeyHint shows the start of a presented secret in messages and logs: at most
// 8 bytes and at most half of it, each one that is not printable ASCII
// replaced by '?', and "…". It is never enough to use the key.
func KeyHint(secret string) string {
	const hintBytes = 8
	shown := []byte(secret[:min(hintBytes, len(secret)/2)])
	for i, c := range shown {
		if c <= 0x20 || c > 0x7e {
			shown[i] = '?'
		}
	}
	return string(shown) + "…"
}
