package provider

import (
	"sync/atomic"
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
	// appLabel bounds the app label (see SetAppLabel); nil: the app name.
	appLabel atomic.Pointer[func(string) string]
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

// SetAppLabel makes f turn every app name into its label value, so that
// the app label stays bounded (pushfleet passes its metrics.Fleet.App).
// Without it the app name is the label: senders only label the apps of
// their configuration, never a name taken from a job. Safe to call at any
// time.
func (m *Metrics) SetAppLabel(f func(app string) string) {
	if m == nil {
		return
	}
	if f == nil {
		m.appLabel.Store(nil)
		return
	}
	m.appLabel.Store(&f)
}

func (m *Metrics) app(app string) string {
	if f := m.appLabel.Load(); f != nil {
		return (*f)(app)
	}
	return app
}

// ObserveRequest records one HTTP request to a provider and the kind of its
// answer: once per request made, never for tokens held back or expired
// before their request. A CredentialError also counts in the credential
// error counter.
func (m *Metrics) ObserveRequest(platform, app string, k Kind, d time.Duration) {
	if m == nil {
		return
	}
	app = m.app(app)
	m.requestSeconds.WithLabelValues(platform, app, k.String()).Observe(d.Seconds())
	if k == CredentialError {
		m.credential.WithLabelValues(platform, app).Inc()
	}
}

// CountCredentialError counts one answer rejecting an app's credentials
// that came from no push request (an OAuth token endpoint, say).
func (m *Metrics) CountCredentialError(platform, app string) {
	if m == nil {
		return
	}
	m.credential.WithLabelValues(platform, m.app(app)).Inc()
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
