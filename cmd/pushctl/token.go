package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func (c *cli) tokenGet(ctx context.Context, args []string) error {
	fs, common := c.flags("token get")
	app := fs.String("app", "demo", "app name")
	platform := fs.String("platform", "", "apns, fcm or mi")
	token := fs.String("token", "", "device token")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	p, err := events.ParsePlatform(*platform)
	if err != nil {
		return err
	}
	if *token == "" {
		return errors.New("--token is required")
	}
	nc, js, err := c.connect(common)
	if err != nil {
		return err
	}
	defer nc.Close()
	kv, err := js.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		return err
	}
	r, rev, err := tokens.NewStore(kv).Get(ctx, *app, p, *token)
	if errors.Is(err, tokens.ErrNotFound) {
		return fmt.Errorf("no state stored for this token (it was never registered, and no provider reported it invalid)")
	}
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(struct {
		*tokens.Record
		Revision uint64 `json:"revision"`
	}{r, rev}, "", "  ")
	fmt.Fprintln(c.stdout, string(b))
	return nil
}
