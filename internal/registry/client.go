package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// DefaultTimeout bounds a Client call whose context has no deadline.
const DefaultTimeout = 5 * time.Second

// Client calls the registry service over NATS request/reply. Service errors
// come back as *Error (errors.Is matches ErrBadRequest, ErrNotFound,
// ErrConflict, ErrServer); transport errors as nats errors
// (nats.ErrNoResponders when no instance runs).
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
	if err := c.call(ctx, VerbRegister, r, &resp); err != nil {
		return nil, err
	}
	return &resp.Device, nil
}

// Unregister removes a device; ErrNotFound when it is not registered.
func (c *Client) Unregister(ctx context.Context, ref DeviceRef) error {
	return c.call(ctx, VerbUnregister, UnregisterRequest{DeviceRef: ref}, &UnregisterResponse{})
}

// Get returns a device; ErrNotFound when it is not registered.
func (c *Client) Get(ctx context.Context, ref DeviceRef) (*Device, error) {
	var resp DeviceResponse
	if err := c.call(ctx, VerbGet, GetRequest{DeviceRef: ref}, &resp); err != nil {
		return nil, err
	}
	return &resp.Device, nil
}

// UpdateTags adds and removes tags of a registered device.
func (c *Client) UpdateTags(ctx context.Context, r UpdateTagsRequest) (*Device, error) {
	var resp DeviceResponse
	if err := c.call(ctx, VerbUpdateTags, r, &resp); err != nil {
		return nil, err
	}
	return &resp.Device, nil
}

// ListByAlias returns one page of an alias's devices.
func (c *Client) ListByAlias(ctx context.Context, r ListByAliasRequest) (*ListResponse, error) {
	var resp ListResponse
	if err := c.call(ctx, VerbListByAlias, r, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ListByTag returns one page of a tag's devices.
func (c *Client) ListByTag(ctx context.Context, r ListByTagRequest) (*ListResponse, error) {
	var resp ListResponse
	if err := c.call(ctx, VerbListByTag, r, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Stats returns device counts by app, platform and state.
func (c *Client) Stats(ctx context.Context, r StatsRequest) (*StatsResponse, error) {
	var resp StatsResponse
	if err := c.call(ctx, VerbStats, r, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// call sends one request and decodes the answer into resp.
func (c *Client) call(ctx context.Context, verb string, req, resp any) error {
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
	msg, err := c.nc.RequestWithContext(ctx, Subject(verb), b)
	if err != nil {
		return fmt.Errorf("registry %s: %w", verb, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return &Error{Code: code, Description: msg.Header.Get(micro.ErrorHeader)}
	}
	if err := json.Unmarshal(msg.Data, resp); err != nil {
		return fmt.Errorf("registry %s: decode answer: %w", verb, err)
	}
	return nil
}
