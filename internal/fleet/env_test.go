package fleet

import "testing"

func TestRedactDropsCredentials(t *testing.T) {
	got := redact("nats://alice:s3cret@n1:4222,nats://n2:4222, tls://token@n3:4222")
	want := "nats://redacted@n1:4222,nats://n2:4222,tls://redacted@n3:4222"
	if got != want {
		t.Fatalf("redact = %q, want %q", got, want)
	}
}
