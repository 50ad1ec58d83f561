package apns_test

import (
	"context"
	"fmt"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
)

// A sender for one app, pointed at the fake as the sandbox binary does.
func Example() {
	fake, err := apnsfake.Start(apnsfake.Options{})
	if err != nil {
		panic(err)
	}
	defer fake.Close()
	app, err := fake.SandboxApp("com.example.app") // inline .p8 key registered in the fake
	if err != nil {
		panic(err)
	}
	s, err := apns.New(fake.Config(), map[string]apns.AppConfig{"myapp": app})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	job := &events.Job{
		ID: "i1.apns.0", IntentID: "i1", App: "myapp", Platform: events.APNs,
		Tokens:       []string{"a1b2c3d4", apnsfake.DeadPrefix + "beef"},
		Notification: events.Notification{Title: "Hello"},
	}
	for _, r := range s.Send(context.Background(), job) {
		fmt.Println(r.Kind, r.Reason, !r.ProviderAt.IsZero())
	}
	// Output:
	// delivered  false
	// invalid_token Unregistered true
}
