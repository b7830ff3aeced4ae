package auth

import (
	"errors"
	"strings"
	"testing"

	"buzhou.dev/platform/errs"
)

func TestPresentedKey(t *testing.T) {
	t.Parallel()
	const k = "bzk_0123456789abcdefghijklmnopqrstuv"
	cases := []struct {
		name          string
		authorization []string
		apiKey        []string
		want          string
		says          string // part of the refusal; "" when accepted
	}{
		{"bearer", []string{"Bearer " + k}, nil, k, ""},
		{"lower-case scheme", []string{"bearer " + k}, nil, k, ""},
		{"upper-case scheme", []string{"BEARER " + k}, nil, k, ""},
		{"spaces and tabs around", []string{" \tBearer \t " + k + "\t "}, nil, k, ""},
		{"x-api-key", nil, []string{k}, k, ""},
		{"x-api-key trimmed", nil, []string{"  " + k + "\t"}, k, ""},
		{"authorization wins", []string{"Bearer " + k}, []string{"other"}, k, ""},
		{"blank authorization, x-api-key used", []string{"  "}, []string{k}, k, ""},
		{"none", nil, nil, "", ""},
		{"blank both", []string{""}, []string{" "}, "", ""},
		{"token scheme", []string{"Token " + k}, nil, "", `scheme "Token" is not supported`},
		{"basic scheme", []string{"Basic a2V5"}, nil, "", `scheme "Basic"`},
		{"no scheme", []string{k}, nil, "", "missing scheme"},
		{"empty key", []string{"Bearer "}, nil, "", "missing scheme"},
		{"two words", []string{"Bearer a b"}, nil, "", "exactly one key after Bearer"},
		{"x-api-key with a space", nil, []string{"a b"}, "", "exactly one key"},
		{"trailing non-breaking space", []string{"Bearer " + k + "\u00a0"}, nil, "", "byte 44 (0xC2) is not printable ASCII"},
		{"non-breaking space as separator", []string{"Bearer\u00a0" + k}, nil, "", "byte 7 (0xC2) is not printable ASCII"},
		{"x-api-key with a non-breaking space", nil, []string{k + "\u00a0"}, "", "non-breaking space"},
		{"not UTF-8", []string{"Bearer " + k + "\xff"}, nil, "", "(0xFF) is not printable ASCII"},
		{"x-api-key not UTF-8", nil, []string{"\xc3\x28"}, "", "(0xC3)"},
		{"control character", nil, []string{k + "\x00"}, "", "(0x00)"},
		{"line break", []string{"Bearer " + k + "\r\nX: y"}, nil, "", "(0x0D)"},
		{"ideographic space", nil, []string{k + "\u3000"}, "", "not printable ASCII"},
		{"too long", nil, []string{strings.Repeat("k", MaxKeyLen+1)}, "", "too long"},
		{"longest", nil, []string{strings.Repeat("k", MaxKeyLen)}, strings.Repeat("k", MaxKeyLen), ""},
		{"two authorization headers", []string{"Bearer a", "Bearer b"}, nil, "", "2 Authorization headers"},
		{"two x-api-key headers", nil, []string{"a", "b"}, "", "2 x-api-key headers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := PresentedKey(tc.authorization, tc.apiKey)
			if tc.says == "" {
				if err != nil || got != tc.want {
					t.Fatalf("PresentedKey = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if got != "" || !errors.Is(err, errs.ErrUnauthenticated) || ReasonOf(err) != ReasonMalformed {
				t.Fatalf("PresentedKey = %q, %v; want a malformed-key refusal", got, err)
			}
			if msg := errs.Message(err); !strings.Contains(msg, tc.says) || !strings.Contains(msg, "Bearer <key>") || strings.Contains(msg, k) {
				t.Errorf("message %q should say %q and how to send a key, without the key", msg, tc.says)
			}
		})
	}
}

func TestCheckConfiguredKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, secret, says string
	}{
		{"good", strings.Repeat("a1", 16), ""},
		{"unset", "", "BUZHOU_ADMIN_KEY is not set"},
		{"31 characters", strings.Repeat("a", 31), "has 31 characters, too few"},
		{"too long", strings.Repeat("a", MaxKeyLen+1), "at most 256"},
		{"space", "aaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbb", "contains spaces"},
		{"non-ASCII", strings.Repeat("密", 20), "non-ASCII"},
		{"line break", strings.Repeat("a", 40) + "\n", "control"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckConfiguredKey("BUZHOU_ADMIN_KEY", tc.secret)
			if tc.says == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "BUZHOU_ADMIN_KEY") {
				t.Fatalf("CheckConfiguredKey = %v; want InvalidArgument saying %q", err, tc.says)
			}
			if len(tc.secret) > 8 && strings.Contains(err.Error(), tc.secret[:8]) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestKeyHint(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, secret, want string
	}{
		{"made key", "bzk_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56", "bzk_Ab12…"},
		{"short", "abcdef", "abc…"},
		{"one character", "x", "…"},
		{"empty", "", "…"},
		{"non-ASCII", "密钥密钥密钥密钥密钥", "????????…"},
		{"unprintable", "a\tb\x00cdefgh", "a?b?c…"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := KeyHint(tc.secret); got != tc.want {
				t.Fatalf("KeyHint(%q) = %q, want %q", tc.secret, got, tc.want)
			}
		})
	}
}
