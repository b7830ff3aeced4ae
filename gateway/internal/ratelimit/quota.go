package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Quota counts a key's calls per UTC day and per UTC month against the key's
// daily and monthly quotas.
type Quota interface {
	// Use counts one call of key unless it would exceed a quota; daily or
	// monthly 0 means that quota does not apply. A refused call is counted
	// against neither quota, so a key held back by its daily quota does not
	// burn its monthly one by retrying.
	Use(ctx context.Context, key string, daily, monthly int64) (QuotaDecision, error)
}

// ErrBadQuota is returned by Use for a negative quota.
var ErrBadQuota = errors.New("ratelimit: quotas must be 0 (none) or positive")

// Quota names, as in QuotaDecision.Exceeded.
const (
	Daily   = "daily"
	Monthly = "monthly"
)

// QuotaDecision is the outcome of one Use.
//
// On a refusal it describes the quota that is used up; when both are, the
// monthly one, because waiting for the daily reset would not help. When the
// call is allowed it describes the quota with fewer calls left (the daily one
// on a tie), so the gateway can show how close the key is. With no quotas it
// is just Allowed.
type QuotaDecision struct {
	Allowed bool
	// Exceeded is "daily" or "monthly" on a refusal, "" otherwise.
	Exceeded string
	// Limit is the described quota.
	Limit int64
	// Used counts the calls in its current period, this one included when
	// allowed.
	Used int64
	// ResetAt is when its period ends: the next UTC midnight or the first of
	// next month at 00:00 UTC.
	ResetAt time.Time
}

// Message is a sentence for the 429 body naming the used-up quota and when it
// resets, e.g. "the daily quota of 1000 calls for this key is used up; it
// resets at 2026-03-15T00:00:00Z".
func (q QuotaDecision) Message() string {
	if q.Allowed {
		return ""
	}
	return fmt.Sprintf("the %s quota of %d calls for this key is used up; it resets at %s",
		q.Exceeded, q.Limit, q.ResetAt.UTC().Format(time.RFC3339))
}

// WriteQuotaHeaders sets Retry-After (whole seconds until ResetAt, rounded up,
// at least 1) when q is a refusal, and leaves h alone otherwise.
func WriteQuotaHeaders(h http.Header, q QuotaDecision, now time.Time) {
	if q.Allowed {
		return
	}
	h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(q.ResetAt.Sub(now)), 1), 10))
}

func checkQuota(daily, monthly int64) error {
	if daily < 0 || monthly < 0 {
		return fmt.Errorf("%w (got daily %d, monthly %d)", ErrBadQuota, daily, monthly)
	}
	return nil
}

// periods are the UTC day and month containing an instant and their ends.
type periods struct {
	day, nextDay     time.Time
	month, nextMonth time.Time
}

func periodsAt(t time.Time) periods {
	t = t.UTC()
	y, m, d := t.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	month := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return periods{
		day:       day,
		nextDay:   day.AddDate(0, 0, 1),
		month:     month,
		nextMonth: month.AddDate(0, 1, 0),
	}
}

// admit reports whether one more call fits, given the calls counted so far.
func admit(daily, monthly, dayCalls, monthCalls int64) bool {
	return (daily == 0 || dayCalls < daily) && (monthly == 0 || monthCalls < monthly)
}

// quotaDecide describes the outcome of a call given the counts after it.
func quotaDecide(p periods, daily, monthly, dayCalls, monthCalls int64, allowed bool) QuotaDecision {
	dayD := QuotaDecision{Allowed: allowed, Limit: daily, Used: dayCalls, ResetAt: p.nextDay}
	monthD := QuotaDecision{Allowed: allowed, Limit: monthly, Used: monthCalls, ResetAt: p.nextMonth}
	switch {
	case !allowed && monthly > 0 && monthCalls >= monthly:
		monthD.Exceeded = Monthly
		return monthD
	case !allowed:
		dayD.Exceeded = Daily
		return dayD
	case daily == 0 && monthly == 0:
		return QuotaDecision{Allowed: true}
	case daily == 0:
		return monthD
	case monthly == 0:
		return dayD
	case monthly-monthCalls < daily-dayCalls:
		return monthD
	default:
		return dayD
	}
}
