package lru

import (
	"strings"
	"testing"
	"time"
)

// TestBudget drops the least recently used values to stay within its
// budget, and never keeps one larger than the budget.
func TestBudget(t *testing.T) {
	t.Parallel()
	c := New[string](300, 0, func(v string) int { return len(v) })
	for _, k := range []string{"a", "b", "c"} {
		c.Put(k, strings.Repeat(k, 100))
	}
	if _, ok := c.Get("a"); !ok { // a is now the most recent
		t.Fatal("a was dropped within the budget")
	}
	c.Put("d", strings.Repeat("d", 100))
	if _, ok := c.Get("b"); ok {
		t.Error("b, the least recently used, was kept over the budget")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s was dropped", k)
		}
	}
	c.Put("a", "short") // in place of the old value
	if v, _ := c.Get("a"); v != "short" || c.Used() != 205 {
		t.Errorf("a = %q, %d bytes used", v, c.Used())
	}
	c.Put("huge", strings.Repeat("x", 301))
	if _, ok := c.Get("huge"); ok || c.Used() > 300 {
		t.Errorf("a value over the budget was kept (used %d of 300)", c.Used())
	}
	c.Delete("a")
	if _, ok := c.Get("a"); ok || c.Used() != 200 {
		t.Errorf("a deleted value is still there (used %d)", c.Used())
	}
	c.Clear()
	if _, ok := c.Get("c"); ok || c.Used() != 0 {
		t.Errorf("a cleared cache still holds values (used %d)", c.Used())
	}
}

// TestTTL stops returning a value once it is ttl old.
func TestTTL(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	c := New[string](1000, time.Minute, func(v string) int { return len(v) })
	c.Now = func() time.Time { return now }
	c.Put("k", "v")
	now = now.Add(59 * time.Second)
	if _, ok := c.Get("k"); !ok {
		t.Error("a value was dropped before its ttl")
	}
	now = now.Add(time.Second)
	if _, ok := c.Get("k"); ok || c.Used() != 0 {
		t.Errorf("a value was returned at its ttl (used %d)", c.Used())
	}
}
