package fakeserver

import (
	"slices"
	"testing"
)

func TestLedgerDeliver(t *testing.T) {
	var l Ledger
	l.SetDead("gone")
	dead, n := l.Deliver([]string{"a", "gone", "deadbeef", "a"}, nil)
	if !slices.Equal(dead, []string{"gone", "deadbeef"}) || n != 2 {
		t.Fatalf("Deliver = %v, %d; want [gone deadbeef], 2", dead, n)
	}
	if l.Delivered("a") != 2 || l.Delivered("gone") != 0 || l.DeliveredTotal() != 2 {
		t.Fatalf("Delivered(a)=%d Delivered(gone)=%d total=%d", l.Delivered("a"), l.Delivered("gone"), l.DeliveredTotal())
	}
	if dead, n := l.Deliver([]string{"gone"}, nil); n != 0 || len(dead) != 1 {
		t.Fatalf("all dead: Deliver = %v, %d", dead, n)
	}
	if _, n := l.Deliver([]string{"gone"}, func(string) bool { return false }); n != 1 {
		t.Fatalf("dead not checked: delivered %d, want 1", n)
	}
	l.Arrived()
	if l.Requests() != 1 || len(l.RequestTimes()) != 1 {
		t.Fatalf("Requests=%d RequestTimes=%v", l.Requests(), l.RequestTimes())
	}
}
