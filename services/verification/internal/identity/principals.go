package identity

import (
	"context"
	"fmt"
	"strings"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	"buzhou.dev/verification/internal/store"
)

// CreatePrincipal registers an agent, bot or human expert; the id is
// server-made, any id in the request is ignored.
func (s *Service) CreatePrincipal(ctx context.Context, req *identityv1.CreatePrincipalRequest) (*identityv1.Principal, error) {
	in := req.GetPrincipal()
	if in == nil {
		return nil, fmt.Errorf("%w: principal is required; send {\"name\", \"type\"}", errs.ErrInvalid)
	}
	name, err := checkName("name", in.GetName())
	if err != nil {
		return nil, err
	}
	typ := in.GetType()
	if !vocab.ValidPrincipalType(typ) {
		return nil, fmt.Errorf("%w: type is required; give %s", errs.ErrInvalid, strings.Join(vocab.PrincipalTypes(), ", "))
	}
	p, err := s.st.CreatePrincipal(ctx, store.Principal{ID: NewID("prn"), Name: name, Type: typ})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "principal created", "principal", p.ID, "type", p.Type, "by", caller(ctx))
	return principalProto(p), nil
}

// ListPrincipals lists principals, newest first.
func (s *Service) ListPrincipals(ctx context.Context, req *identityv1.ListPrincipalsRequest) (*identityv1.ListPrincipalsResponse, error) {
	if err := checkPageSize(req.GetPageSize()); err != nil {
		return nil, err
	}
	ps, next, err := s.st.ListPrincipals(ctx, store.Page{Size: int(req.GetPageSize()), Token: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	resp := &identityv1.ListPrincipalsResponse{Principals: make([]*identityv1.Principal, 0, len(ps)), NextPageToken: next}
	for _, p := range ps {
		resp.Principals = append(resp.Principals, principalProto(p))
	}
	return resp, nil
}
