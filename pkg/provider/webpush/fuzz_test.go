package webpush_test

import (
	"testing"

	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
)

// FuzzParseToken: any string either fails with ErrBadSubscription or
// parses to a subscription whose canonical token parses to itself.
func FuzzParseToken(f *testing.F) {
	f.Add(`{"endpoint":"https://fcm.googleapis.com/fcm/send/x","keys":{"p256dh":"BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM","auth":"tBHItJI5svbpez7KI4CCXg"}}`)
	f.Add(`{"endpoint":"http://x","keys":{}}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := webpush.Canonical(tok)
		if err != nil {
			return
		}
		again, err := webpush.Canonical(c)
		if err != nil || again != c {
			t.Fatalf("canonical %q re-parses to %q, %v", c, again, err)
		}
	})
}
