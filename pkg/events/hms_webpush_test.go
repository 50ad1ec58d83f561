package events

import (
	"strings"
	"testing"
)

func TestHMSAndWebPushAreBuiltIn(t *testing.T) {
	for _, c := range []struct {
		p             Platform
		stream, retry string
		durable       string
	}{
		{HMS, "PUSH_SEND_HMS", "PUSH_RETRY_HMS", "hms-sender"},
		{WebPush, "PUSH_SEND_WEBPUSH", "PUSH_RETRY_WEBPUSH", "webpush-sender"},
	} {
		if !c.p.Valid() || c.p.Custom() || c.p.ReplacesTokens() {
			t.Errorf("%s: Valid %v Custom %v ReplacesTokens %v", c.p, c.p.Valid(), c.p.Custom(), c.p.ReplacesTokens())
		}
		if got := SendStream(c.p); got != c.stream {
			t.Errorf("SendStream(%s) = %q", c.p, got)
		}
		if got := RetryStream(c.p); got != c.retry {
			t.Errorf("RetryStream(%s) = %q", c.p, got)
		}
		if got := SenderDurable(c.p); got != c.durable {
			t.Errorf("SenderDurable(%s) = %q", c.p, got)
		}
		if CheckPlatformName(string(c.p)) == nil {
			t.Errorf("%s may name a custom platform", c.p)
		}
	}
	if _, err := ParsePlatform("x"); err == nil || !strings.Contains(err.Error(), "apns, fcm, mi, hms or webpush") {
		t.Errorf("ParsePlatform: %v", err)
	}
}

func TestCheckTokenFor(t *testing.T) {
	const sub = `{"endpoint":"https://push.example/s/1","keys":{"p256dh":"BP","auth":"au"}}`
	for _, c := range []struct {
		p    Platform
		tok  string
		good bool
	}{
		{WebPush, sub, true},
		{FCM, sub, false}, // commas
		{Mi, "a,b", false},
		{WebPush, "", false},
		{WebPush, "abc", false},
		{WebPush, `{"endpoint":"http://push.example/s/1","keys":{"p256dh":"BP","auth":"au"}}`, false},
		{WebPush, `{"endpoint":"https://push.example/s/1","keys":{"auth":"au"}}`, false},
		{WebPush, `{"endpoint":"https://push.example/s/1","keys":{"p256dh":"BP"}}`, false},
		{WebPush, `{"endpoint": "https://push.example/s/1","keys":{"p256dh":"BP","auth":"au"}}`, false}, // white space
		{HMS, "IQAAAACy0", true},
	} {
		if err := CheckTokenFor(c.p, c.tok); (err == nil) != c.good {
			t.Errorf("CheckTokenFor(%s, %q) = %v", c.p, c.tok, err)
		}
	}
	in := Intent{ID: "i1", App: "shop", Targets: Targets{Tokens: []Target{{Platform: WebPush, Token: sub}}},
		Notification: Notification{Title: "t", Body: "b"}}
	if err := in.Validate(DefaultLimits); err != nil {
		t.Errorf("a webpush subscription token refused: %v", err)
	}
}

func TestValidateHMSSize(t *testing.T) {
	in := Intent{Notification: Notification{Title: "t", Body: strings.Repeat("b", 3900)}}
	if err := in.ValidateFor(HMS); err != nil {
		t.Errorf("3900 bytes refused: %v", err)
	}
	in.Notification.Body = strings.Repeat("b", 4100)
	if err := in.ValidateFor(HMS); err == nil {
		t.Error("4100 bytes accepted")
	}
	in.Notification.CollapseKey = "news"
	in.Notification.Body = "b"
	if err := in.ValidateFor(HMS); err != nil {
		t.Errorf("a tag collapse key refused: %v", err)
	}
}
