package apns

import "testing"

func TestAPNsID(t *testing.T) {
	a, b := apnsID("intent", "tok"), apnsID("inten", "ttok")
	if a == b {
		t.Fatal("the separator does not keep seeds apart")
	}
	if a != apnsID("intent", "tok") || len(a) != 36 || a[14] != '5' {
		t.Fatalf("apnsID %q is not a stable version-5 UUID", a)
	}
}
