package registryapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// DefaultTimeout bounds a Client call whose context has no deadline.
const DefaultTimeout = 5 * time.Second

// Client calls the registry service over NATS request/reply, on
// push.registry.<verb>.<app> with the app of the request. Service errors
// come back as *Error (errors.Is matches ErrBadRequest, ErrForbidden,
// ErrNotFound, ErrConflict, ErrServer); transport errors as nats errors
// (nats.ErrNoResponders when no instance runs).
//
// With the shipped NATS permissions each app's backend connects as its own
// user, registry-<app> (ClientName), allowed to publish push.registry.*.<app>
// and to receive answers only on its own inbox: connect with
// nats.CustomInboxPrefix(InboxPrefix(app)).
type Client struct {
	nc *nats.Conn
	// Timeout bounds calls whose context has no deadline (DefaultTimeout).
	Timeout time.Duration
}

// NewClient returns a client using nc.
func NewClient(nc *nats.Conn) *Client { return &Client{nc: nc, Timeout: DefaultTimeout} }

// Register registers a device (replacing an earlier registration of it).
func (c *Client) Register(ctx context.Context, r RegisterRequest) (*Device, error) {
	var resp DeviceResponse
	if err := c.call(ctx, VerbRegister, r.App, r, &resp); err != nil {
		return nil, err
	}
	return &resp.Device, nil
}

// Unregister removes a device; ErrNotFound when it is not registered.
func (c *Client) Unregister(ctx context.Context, ref DeviceRef) error {
	return c.call(ctx, VerbUnregister, ref.App, UnregisterRequest{DeviceRef: ref}, &UnregisterResponse{})
}

// Get returns a device; ErrNotFound when it is not registered.
func (c *Client) Get(ctx context.Context, ref DeviceRef) (*Device, error) {
	var resp DeviceResponse
	if err := c.call(ctx, VerbGet, ref.App, GetRequest{DeviceRef: ref}, &resp); err != nil {
		return nil, err
	}
	return &resp.Device, nil
}

// UpdateTags adds and removes tags of a registered device.
func (c *Client) UpdateTags(ctx context.Context, r UpdateTagsRequest) (*Device, error) {
	var resp DeviceResponse
	if err := c.call(ctx, VerbUpdateTags, r.App, r, &resp); err != nil {
		return nil, err
	}
	return &resp.Device, nil
}

// ListByAlias returns one page of an alias's devices.
func (c *Client) ListByAlias(ctx context.Context, r ListByAliasRequest) (*ListResponse, error) {
	var resp ListResponse
	if err := c.call(ctx, VerbListByAlias, r.App, r, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ListByTag returns one page of a tag's devices.
func (c *Client) ListByTag(ctx context.Context, r ListByTagRequest) (*ListResponse, error) {
	var resp ListResponse
	if err := c.call(ctx, VerbListByTag, r.App, r, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Stats returns device counts by app, platform and state: of r.App, or of
// every app when r.App is empty (push.registry.stats-all, which only
// operators may call).
func (c *Client) Stats(ctx context.Context, r StatsRequest) (*StatsResponse, error) {
	var resp StatsResponse
	verb := VerbStats
	if r.App == "" {
		verb = VerbStatsAll
	}
	if err := c.call(ctx, verb, r.App, r, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// call sends one request for app and decodes the answer into resp. An app
// that is not a valid app name (it would not be one subject token) is
// refused here, as the service would.
func (c *Client) call(ctx context.Context, verb, app string, req, resp any) error {
	if verb != VerbStatsAll && !events.ValidApp(app) {
		return &Error{Code: CodeBadRequest, Description: fmt.Sprintf("app %q: must be 1-64 characters of A-Z a-z 0-9 _ -", app)}
	}
	if _, ok := ctx.Deadline(); !ok {
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("registry %s: encode: %w", verb, err)
	}
	msg, err := c.nc.RequestWithContext(ctx, Subject(verb, app), b)
	if err != nil {
		return fmt.Errorf("registry %s: %w", verb, err)
	}
	if code := msg.Header.Get(ErrorCodeHeader); code != "" {
		return &Error{Code: code, Description: msg.Header.Get(ErrorHeader)}
	}
	if err := json.Unmarshal(msg.Data, resp); err != nil {
		return fmt.Errorf("registry %s: decode answer: %w", verb, err)
	}
	return nil
}
