package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's instruments.
type Metrics struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
	// Intents counts intents by app (the bounded label) and result:
	// published, duplicate, invalid, forbidden, failed.
	Intents *prometheus.CounterVec
	// Keys is the number of API keys loaded.
	Keys prometheus.GaugeFunc
	// KeysReloads counts keys file reloads by result (ok, error).
	KeysReloads *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, keys func() float64) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_gateway_requests_total",
			Help: "HTTP requests to the push gateway by route (the mux pattern, or \"unmatched\") and status code.",
		}, []string{"route", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pushfleet_gateway_request_duration_seconds",
			Help:    "Time the push gateway spends on a request, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		Intents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_gateway_intents_total",
			Help: "Intents handled by the push gateway by app and result (published, duplicate, invalid, forbidden, failed).",
		}, []string{"app", "result"}),
		Keys: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pushfleet_gateway_api_keys",
			Help: "API keys loaded from the keys file.",
		}, keys),
		KeysReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushfleet_gateway_keys_reloads_total",
			Help: "Keys file reloads by result (ok, error); on error the running keys stay.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.Requests, m.Duration, m.Intents, m.Keys, m.KeysReloads)
	return m
}
