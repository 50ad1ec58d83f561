package allinone

import (
	"errors"

	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// sandboxFleet is the local fake providers and a sender for each.
type sandboxFleet struct {
	*sandbox.Providers
	senders map[events.Platform]sandbox.SenderCloser
}

// startSandbox starts the five fakes on loopback and builds a sender for
// each, configured for sandbox.App.
func startSandbox(m *provider.Metrics) (*sandboxFleet, error) {
	p, err := sandbox.Start()
	if err != nil {
		return nil, err
	}
	sb := &sandboxFleet{Providers: p, senders: map[events.Platform]sandbox.SenderCloser{}}
	for _, pl := range events.Platforms {
		s, err := p.NewSender(pl, sandbox.SenderConfig{Metrics: m})
		if err != nil {
			_ = sb.close()
			return nil, err
		}
		sb.senders[pl] = s
	}
	return sb, nil
}

// close closes the senders, then the fakes.
func (sb *sandboxFleet) close() error {
	var errs []error
	for _, s := range sb.senders {
		errs = append(errs, s.Close())
	}
	sb.Providers.Close()
	return errors.Join(errs...)
}
