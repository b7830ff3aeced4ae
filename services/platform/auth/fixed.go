package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
)

// FixedKey authenticates exactly one key, held in memory: for a part that
// takes calls from one service only and may reach nobody to check keys with
// (the sandbox runner, which has no egress at all).
type FixedKey struct {
	sum [sha256.Size]byte
	p   Principal
}

var (
	_ Authenticator = (*FixedKey)(nil)
	_ Voucher       = (*FixedKey)(nil)
)

// NewFixedKey accepts secret as p.
func NewFixedKey(secret string, p Principal) *FixedKey {
	return &FixedKey{sum: sha256.Sum256([]byte(secret)), p: p}
}

// Authenticate implements Authenticator.
func (k *FixedKey) Authenticate(_ context.Context, secret string) (*Principal, error) {
	if p := k.Vouch(secret); p != nil {
		return p, nil
	}
	return nil, Refuse(ReasonUnknown, "unknown API key (prefix %s); this service takes calls from Buzhou's own services only", KeyHint(secret))
}

// Vouch implements Voucher; the comparison takes the same time whatever the
// secret.
func (k *FixedKey) Vouch(secret string) *Principal {
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], k.sum[:]) != 1 {
		return nil
	}
	p := k.p
	p.Scopes = append([]string(nil), k.p.Scopes...)
	return &p
}
