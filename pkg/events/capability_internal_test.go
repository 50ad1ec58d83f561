package events

import "testing"

// The capability is kept for a platform whose provider does name
// replacement tokens: its token_replaced is then allowed.
func TestReplacesTokensCapability(t *testing.T) {
	saved := capabilities[FCM]
	t.Cleanup(func() { capabilities[FCM] = saved })
	capabilities[FCM] = capability{replacesTokens: true}
	f := &Feedback{App: "shop", Platform: FCM, Token: "t", Outcome: TokenReplaced, NewToken: "u"}
	if !FCM.ReplacesTokens() || f.CheckOutcome() != nil {
		t.Fatalf("a platform that replaces tokens is refused token_replaced: %v", f.CheckOutcome())
	}
	if APNs.Reports(TokenReplaced) {
		t.Fatal("the capability of one platform leaked to another")
	}
}
