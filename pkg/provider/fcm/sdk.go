package fcm

import (
	"context"

	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
)

// sdkVersion is the Firebase Admin SDK version in go.mod; the SDK sends it
// in X-Firebase-Client.
const sdkVersion = "4.19.0"

// messagingConfig matches the SDK's internal.MessagingConfig, the argument
// of messaging.NewClient, which firebase.App.Messaging fills in.
//
// Why not firebase.NewApp: the root firebase package imports Firestore and
// Cloud Storage, whose modules are not in go.sum, so it does not build in
// this module. messaging.NewClient is what App.Messaging calls; its config
// type lives in an internal package, so it is built through this constraint
// instead of by name. If the SDK ever changes that struct, this stops
// compiling rather than misbehaving.
type messagingConfig interface {
	~struct {
		Opts      []option.ClientOption
		ProjectID string
		Version   string
	}
}

// newMessagingClient calls newClient (messaging.NewClient) exactly as
// firebase.App.Messaging does.
func newMessagingClient[C messagingConfig](ctx context.Context, newClient func(context.Context, *C) (*messaging.Client, error), projectID string, opts ...option.ClientOption) (*messaging.Client, error) {
	c := C{Opts: opts, ProjectID: projectID, Version: sdkVersion}
	return newClient(ctx, &c)
}
