package metrics

import "github.com/prometheus/client_golang/prometheus"

// Confirm is the confirmation service's instruments (confirmed delivery).
type Confirm struct {
	// Outcomes counts the outcomes it reported, by app and outcome
	// (confirmed, unconfirmed).
	Outcomes *prometheus.CounterVec
	// Messages counts the confirmations it received, by app and result
	// (confirmed, duplicate, late, unknown_intent, not_delivered, invalid).
	Messages *prometheus.CounterVec
	// Resends counts tokens re-sent because they had not confirmed yet, by app.
	Resends *prometheus.CounterVec
	// Watched counts intents watched for confirmation, by app.
	Watched *prometheus.CounterVec

	fleet *Fleet
}

// NewConfirm registers the confirmation service's instruments on f's
// registry; call it once per process.
func NewConfirm(f *Fleet) *Confirm {
	c := &Confirm{
		Outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_confirmations_total",
			Help: "Outcomes reported by the confirmation service, by app and outcome (confirmed, unconfirmed).",
		}, []string{"app", "outcome"}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_confirmation_messages_total",
			Help: "Confirmations received, by app and result (confirmed, duplicate, late, unknown_intent, not_delivered, invalid).",
		}, []string{"app", "result"}),
		Resends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_confirm_resent_tokens_total",
			Help: "Tokens sent a notification again because they had not confirmed it yet, by app.",
		}, []string{"app"}),
		Watched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_confirm_watched_intents_total",
			Help: "Intents asking for confirmation that the confirmation service started watching, by app.",
		}, []string{"app"}),
		fleet: f,
	}
	f.Registry.MustRegister(c.Outcomes, c.Messages, c.Resends, c.Watched)
	return c
}

// App is the bounded app label (Fleet.App).
func (c *Confirm) App(app string) string { return c.fleet.App(app) }
