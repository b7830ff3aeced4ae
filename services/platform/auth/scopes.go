package auth

import (
	"fmt"
	"slices"
	"strings"

	"buzhou.dev/platform/errs"
)

// Scopes a key can be given through the keys API. This is the one list of
// them: the identity service, the CLI and the tests read it from here, and
// every RPC's access rule must name one of these or an internal scope.
const (
	ScopeArticlesWrite = "articles:write"
	// ScopeArticlesPropose creates articles as drafts only: proposals
	// from agents, published by someone with articles:write after review.
	ScopeArticlesPropose    = "articles:propose"
	ScopeVerificationsWrite = "verifications:write"
	ScopeInspectionsRun     = "inspections:run"
	ScopeKeysAdmin          = "keys:admin"
)

// Internal scopes belong to the services' own identities; the keys API never
// grants them, so no outside key reaches an internal RPC.
const (
	ScopeInternalAuthn     = "internal:authn"
	ScopeInternalFeed      = "internal:feed"
	ScopeInternalTrust     = "internal:trust"
	ScopeInternalTelemetry = "internal:telemetry"
	// ScopeInternalRelated writes an article's related ids (the search
	// service, which ranks them).
	ScopeInternalRelated = "internal:related"
	// ScopeInternalSandbox has code blocks run by the sandbox runner.
	ScopeInternalSandbox = "internal:sandbox"
)

// internalPrefix starts every internal scope.
const internalPrefix = "internal:"

// KeyScopes returns the scopes a key can be given, in the order API.md lists
// them; the bootstrap key holds all of them.
func KeyScopes() []string {
	return []string{ScopeArticlesWrite, ScopeArticlesPropose, ScopeVerificationsWrite, ScopeInspectionsRun, ScopeKeysAdmin}
}

// InternalScopes returns the scopes only the services' own identities hold.
func InternalScopes() []string {
	return []string{ScopeInternalAuthn, ScopeInternalFeed, ScopeInternalTrust, ScopeInternalTelemetry, ScopeInternalRelated, ScopeInternalSandbox}
}

// IsInternal reports whether scope belongs to the services' identities.
func IsInternal(scope string) bool { return strings.HasPrefix(scope, internalPrefix) }

// CheckScopes validates the scopes asked for a new key and returns them
// without repeats, in the order given. Errors wrap errs.ErrInvalid and list
// the valid scopes; an internal scope is named as such.
func CheckScopes(scopes []string) ([]string, error) {
	valid := strings.Join(KeyScopes(), ", ")
	if len(scopes) == 0 {
		return nil, fmt.Errorf("%w: give at least one scope; valid scopes: %s", errs.ErrInvalid, valid)
	}
	var out []string
	for _, s := range scopes {
		switch {
		case IsInternal(s):
			return nil, fmt.Errorf("%w: scope %q is internal to Buzhou's own services and no key can be given it; valid scopes: %s",
				errs.ErrInvalid, s, valid)
		case !slices.Contains(KeyScopes(), s):
			return nil, fmt.Errorf("%w: unknown scope %q; valid scopes: %s", errs.ErrInvalid, s, valid)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Names of the services, each with an identity of its own.
const (
	ServiceGateway      = "gateway"
	ServiceArticle      = "article"
	ServiceSearch       = "search"
	ServiceVerification = "verification"
)

// ServiceIdentity is a service's own principal: the internal scopes its key
// holds (least privilege: only what the service calls need) and the variable
// its secret comes from.
type ServiceIdentity struct {
	// Service is the service's name, e.g. "search".
	Service string
	// Env is the variable holding the secret, e.g. BUZHOU_SEARCH_SERVICE_KEY.
	Env string
	// Scopes are internal scopes only: a service key is never a second admin key.
	Scopes []string
}

// ServiceIdentities returns every service's identity.
func ServiceIdentities() []ServiceIdentity {
	return []ServiceIdentity{
		// The gateway checks keys, reports agent usage and follows the change
		// feed to drop the answers of its read cache that a change makes stale.
		{ServiceGateway, "BUZHOU_GATEWAY_SERVICE_KEY", []string{ScopeInternalAuthn, ScopeInternalTelemetry, ScopeInternalFeed}},
		// The article service checks keys.
		{ServiceArticle, "BUZHOU_ARTICLE_SERVICE_KEY", []string{ScopeInternalAuthn}},
		// The search service checks keys, follows the change feed and writes
		// the related ids it ranks back to the articles.
		{ServiceSearch, "BUZHOU_SEARCH_SERVICE_KEY", []string{ScopeInternalAuthn, ScopeInternalFeed, ScopeInternalRelated}},
		// The verification service checks keys locally (it hosts them); it
		// follows the feed, writes trust back and has code blocks run by the
		// sandbox runner when that is a process of its own.
		{ServiceVerification, "BUZHOU_VERIFICATION_SERVICE_KEY", []string{ScopeInternalFeed, ScopeInternalTrust, ScopeInternalSandbox}},
	}
}

// ServiceIdentityOf returns the identity of the named service.
func ServiceIdentityOf(service string) (ServiceIdentity, bool) {
	for _, si := range ServiceIdentities() {
		if si.Service == service {
			return si, true
		}
	}
	return ServiceIdentity{}, false
}
