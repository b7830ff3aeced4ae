package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

const (
	// secretPrefix marks Buzhou keys, so secret scanners and people can tell
	// them apart.
	secretPrefix = "bzk_"
	// secretChars base62 characters carry log2(62)*32 ≈ 190 bits.
	secretChars = 32
	// keyPrefixLen characters of a made secret are kept to recognise it:
	// "bzk_" and 8 random ones (≈48 bits, far from enough to guess the rest).
	keyPrefixLen = 12
	// idChars base62 characters make ids that do not collide (≈95 bits).
	idChars = 16

	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// randomBase62 returns n characters drawn uniformly from base62. Bytes of 248
// and above are dropped, so that every character is equally likely (248 =
// 4*62).
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails; see crypto/rand.Read
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// newSecret makes a key's secret: "bzk_" and 32 random base62 characters.
func newSecret() string {
	return secretPrefix + randomBase62(secretChars)
}

// newID makes a server id such as "key_…" or "prn_…".
func NewID(kind string) string {
	return kind + "_" + randomBase62(idChars)
}

// hashSecret is what the store keeps of a secret. A plain SHA-256 is enough
// because made secrets are long random strings, out of reach of guessing;
// a slow password hash would only slow down every authenticated call.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// keyPrefix is the recognisable start of a made secret, e.g. "bzk_Ab12Cd34".
func keyPrefix(secret string) string {
	return secret[:keyPrefixLen]
}

// adminPrefix is the recognisable start of an operator-chosen secret: its
// first 6 characters and "…", but never more than half of it, so that a
// short secret is not listed nearly whole.
func adminPrefix(secret string) string {
	return firstRunes(secret, min(6, utf8.RuneCountInString(secret)/2)) + "…"
}

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}
