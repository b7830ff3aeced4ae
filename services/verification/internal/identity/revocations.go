package identity

import (
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// revocationBuffer is how many revocations a follower may lag behind before
// it is cut off (and, reconnecting, drops its whole cache).
const revocationBuffer = 256

// broadcaster hands every revocation to every open WatchKeyRevocations
// stream. Publishing never blocks: a follower too slow to keep up loses its
// stream instead of holding up a revocation.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan *identityv1.KeyRevocation]struct{}
}

func newBroadcaster() *broadcaster {
	return &broadcaster{subs: map[chan *identityv1.KeyRevocation]struct{}{}}
}

// subscribe returns a channel of the revocations from now on, closed when
// the follower falls behind, and cancel, which ends the subscription.
func (b *broadcaster) subscribe() (<-chan *identityv1.KeyRevocation, func()) {
	ch := make(chan *identityv1.KeyRevocation, revocationBuffer)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}
}

func (b *broadcaster) publish(keyID string, at time.Time) {
	ev := &identityv1.KeyRevocation{KeyId: keyID, RevokeTime: timestamp(at)}
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// WatchKeyRevocations streams the keys revoked or rotated from now on. The
// headers are sent once the stream is subscribed, so a follower that drops
// its cache when they arrive misses nothing.
func (s *Service) WatchKeyRevocations(_ *identityv1.WatchKeyRevocationsRequest, stream grpc.ServerStreamingServer[identityv1.KeyRevocation]) error {
	ch, cancel := s.revocations.subscribe()
	defer cancel()
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stop:
			return fmt.Errorf("%w: the identity service is shutting down; reconnect", errs.ErrUnavailable)
		case ev, ok := <-ch:
			if !ok {
				return fmt.Errorf("%w: this follower fell %d revocations behind; reconnect and drop every cached key", errs.ErrUnavailable, revocationBuffer)
			}
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}
