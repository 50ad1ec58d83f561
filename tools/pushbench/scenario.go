package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// scenario is one benchmark configuration.
type scenario struct {
	Name    string
	Shape   string // s1, s2, tag
	Mix     string // apns, hms, webpush (one platform), mixed
	Latency time.Duration
	// Pace: "" closed loop; "half" half the measured peak of Base; else a rate.
	Pace string
	Rate float64
	// Batch > 0 sends the intents through the HTTP push gateway (run
	// inside the fleet process), Batch intents per POST /v1/intents;
	// 0 publishes them straight to NATS.
	Batch int
}

// maxGatewayBatch bounds the intents of one gateway request.
const maxGatewayBatch = 1000

// Base is the scenario without its pace: the one whose peak "half" halves.
func (s scenario) Base() string {
	return fmt.Sprintf("%s:%s:%s", s.Shape, s.Mix, fmtLatency(s.Latency)) + s.viaSuffix()
}

// gateway reports whether the intents go through the HTTP gateway.
func (s scenario) gateway() bool { return s.Batch > 0 }

// viaSuffix is ":gw" (one intent per request) or ":gwN", or "" for NATS.
func (s scenario) viaSuffix() string {
	switch {
	case s.Batch == 1:
		return ":gw"
	case s.Batch > 1:
		return ":gw" + strconv.Itoa(s.Batch)
	}
	return ""
}

// direct is the same scenario with its intents published straight to NATS
// (the gateway scenario's yardstick), at rate when positive.
func (s scenario) direct(rate float64) scenario {
	d := s
	d.Batch = 0
	if rate > 0 {
		d.Pace, d.Rate = strconv.FormatFloat(math.Round(rate), 'f', -1, 64), math.Round(rate)
	}
	d.Name = d.Base()
	if d.Pace != "" {
		d.Name += ":" + d.Pace
	}
	return d
}

// fmtLatency writes whole milliseconds as "20ms" (and zero as "0ms").
func fmtLatency(d time.Duration) string {
	if d%time.Millisecond == 0 {
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return d.String()
}

func (s scenario) paced() bool { return s.Pace != "" }

// tokensPerIntent is how many notifications one intent carries (tag: set by run).
func (s scenario) tokensPerIntent(tagDevices int) int {
	switch s.Shape {
	case "s1":
		return 1
	case "s2":
		return 100
	}
	return tagDevices
}

func parseScenarios(list string) ([]scenario, error) {
	var out []scenario
	for _, spec := range strings.Split(list, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		s, err := parseScenario(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--scenarios: none given")
	}
	return out, nil
}

func parseScenario(spec string) (scenario, error) {
	parts := strings.Split(spec, ":")
	var s scenario
	if n := len(parts); n > 3 && strings.HasPrefix(parts[n-1], "gw") {
		s.Batch = 1
		if b := strings.TrimPrefix(parts[n-1], "gw"); b != "" {
			v, err := strconv.Atoi(b)
			if err != nil || v < 1 || v > maxGatewayBatch {
				return s, fmt.Errorf("scenario %q: %q: want gw (one intent per request) or gwN, N intents per request (1..%d)", spec, parts[n-1], maxGatewayBatch)
			}
			s.Batch = v
		}
		parts = parts[:n-1]
	}
	if len(parts) < 3 || len(parts) > 4 {
		return scenario{}, fmt.Errorf("scenario %q: want SHAPE:MIX:LATENCY[:PACE][:gw[N]]", spec)
	}
	s.Shape, s.Mix = parts[0], parts[1]
	switch s.Shape {
	case "s1", "s2", "tag":
	default:
		return s, fmt.Errorf("scenario %q: shape %q: want s1, s2 or tag", spec, s.Shape)
	}
	switch s.Mix {
	case "apns", "hms", "webpush", "mixed":
	default:
		return s, fmt.Errorf("scenario %q: mix %q: want apns, hms, webpush or mixed", spec, s.Mix)
	}
	d, err := time.ParseDuration(parts[2])
	if err != nil || d < 0 {
		return s, fmt.Errorf("scenario %q: latency %q: want a duration such as 0ms or 20ms", spec, parts[2])
	}
	s.Latency = d
	if len(parts) == 4 {
		s.Pace = parts[3]
		if s.Pace != "half" {
			r, err := strconv.ParseFloat(s.Pace, 64)
			if err != nil || r <= 0 {
				return s, fmt.Errorf("scenario %q: pace %q: want half or a rate in notifications/s", spec, s.Pace)
			}
			s.Rate = r
		}
		if s.Shape == "tag" {
			return s, fmt.Errorf("scenario %q: a tag push is one intent; it takes no pace", spec)
		}
	}
	s.Name = strings.TrimSuffix(s.Base(), s.viaSuffix())
	if s.Pace != "" {
		s.Name += ":" + s.Pace
	}
	s.Name += s.viaSuffix()
	return s, nil
}

// describe is a human line for the scenario's header.
func (s scenario) describe(tagDevices int) string {
	shape := map[string]string{"s1": "1 token per intent", "s2": "100 tokens per intent",
		"tag": fmt.Sprintf("one tag intent per %d registered devices", tagDevices)}[s.Shape]
	mix := map[string]string{"apns": "APNs only", "hms": "HMS Push Kit only", "webpush": "Web Push only",
		"mixed": "40% APNs / 40% FCM / 20% MiPush"}[s.Mix]
	pace := "closed loop (flat out)"
	switch {
	case s.Pace == "half":
		pace = "open loop at half the measured peak"
	case s.Rate > 0:
		pace = fmt.Sprintf("open loop at %.0f/s", s.Rate)
	}
	via := "published to NATS"
	switch {
	case s.Batch == 1:
		via = "through the HTTP gateway, one intent per request"
	case s.Batch > 1:
		via = fmt.Sprintf("through the HTTP gateway, %d intents per request", s.Batch)
	}
	return fmt.Sprintf("%s, %s, provider latency %s, %s, %s", shape, mix, fmtLatency(s.Latency), pace, via)
}

// platformAt spreads a mix: one platform (APNs, HMS or Web Push only), or
// 40/40/20 over APNs, FCM, Mi.
func (s scenario) platformAt(i int) events.Platform {
	switch s.Mix {
	case "apns":
		return events.APNs
	case "hms":
		return events.HMS
	case "webpush":
		return events.WebPush
	}
	switch i % 5 {
	case 0, 1:
		return events.APNs
	case 2, 3:
		return events.FCM
	}
	return events.Mi
}
