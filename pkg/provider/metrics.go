package provider

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the provider-side instruments every Sender reports to. A nil
// *Metrics is valid and records nothing, so senders need no nil checks.
type Metrics struct {
	requestSeconds *prometheus.HistogramVec
	inFlight       *prometheus.GaugeVec
	connections    *prometheus.GaugeVec
	credential     *prometheus.CounterVec
}

// NewMetrics registers the provider instruments on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pushfleet_provider_request_duration_seconds",
			Help:    "Time from sending a request to a push provider until its answer, by platform, app and result kind.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"platform", "app", "kind"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushfleet_provider_requests_in_flight",
			Help: "Requests sent to a push provider and not yet answered.",
		}, []string{"platform"}),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushfleet_provider_connections_open",
			Help: "Open connections to a push provider.",
		}, []string{"platform"}),
		credential: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_provider_credential_errors_total",
			Help: "Answers rejecting an app's provider credentials; any increase needs an operator.",
		}, []string{"platform", "app"}),
	}
	reg.MustRegister(m.requestSeconds, m.inFlight, m.connections, m.credential)
	return m
}

// ObserveRequest records one provider request and its result kind.
func (m *Metrics) ObserveRequest(platform, app string, k Kind, d time.Duration) {
	if m == nil {
		return
	}
	m.requestSeconds.WithLabelValues(platform, app, k.String()).Observe(d.Seconds())
	if k == CredentialError {
		m.credential.WithLabelValues(platform, app).Inc()
	}
}

// AddInFlight moves the in-flight gauge by delta.
func (m *Metrics) AddInFlight(platform string, delta int) {
	if m == nil {
		return
	}
	m.inFlight.WithLabelValues(platform).Add(float64(delta))
}

// AddConnections moves the open-connections gauge by delta.
func (m *Metrics) AddConnections(platform string, delta int) {
	if m == nil {
		return
	}
	m.connections.WithLabelValues(platform).Add(float64(delta))
}
