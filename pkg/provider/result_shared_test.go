package provider

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestSharedResultHelpers(t *testing.T) {
	if r := NotSent("t", context.DeadlineExceeded); r.Kind != Retry || r.Reason != "timeout" ||
		!errors.Is(r.Err, ErrNotSent) || !errors.Is(r.Err, ErrUnavailable) {
		t.Errorf("NotSent(deadline) = %+v", r)
	}
	rs := []Result{{Kind: Delivered}, {Kind: CredentialError}, {Kind: CredentialError}}
	if n, first := CountKind(rs, CredentialError); n != 2 || first != 1 {
		t.Errorf("CountKind = %d, %d; want 2, 1", n, first)
	}
	if n, first := CountKind(rs, Expired); n != 0 || first != -1 {
		t.Errorf("CountKind(none) = %d, %d; want 0, -1", n, first)
	}
	send, idx := NonEmpty([]string{"", "a", "", "b"})
	if !slices.Equal(send, []string{"a", "b"}) || !slices.Equal(idx, []int{1, 3}) {
		t.Errorf("NonEmpty = %v, %v", send, idx)
	}
	if r := Rejected([]string{"t"}, ErrPayloadTooLarge); r[0].Kind != Permanent || r[0].Reason != "PayloadTooLarge" {
		t.Errorf("Rejected = %+v", r)
	}
	if Negative(map[string]int64{"a": 0, "b": -1}) != "b" || Negative(map[string]int64{"a": 1}) != "" {
		t.Error("Negative")
	}
	if CheckHTTPURL("ftp://x") == nil || CheckHTTPURL("https://") == nil || CheckHTTPURL("https://x") != nil {
		t.Error("CheckHTTPURL")
	}
}
