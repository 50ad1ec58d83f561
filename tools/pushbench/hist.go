package main

import (
	"math"

	"github.com/pushfleet/pushfleet/internal/metrics"
)

// histSnap is a Prometheus histogram: cumulative counts per upper bound.
type histSnap struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"` // cumulative, one per bound
	Count  uint64    `json:"count"`
	Sum    float64   `json:"sum"`
}

// gatherHist reads the histogram name from the fleet's registry, merging
// every label combination (the platforms).
func gatherHist(m *metrics.Fleet, name string) histSnap {
	var h histSnap
	mfs, err := m.Registry.Gather()
	if err != nil {
		return h
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, met := range mf.GetMetric() {
			ph := met.GetHistogram()
			if ph == nil {
				continue
			}
			bs := ph.GetBucket()
			if h.Bounds == nil {
				for _, b := range bs {
					h.Bounds = append(h.Bounds, b.GetUpperBound())
				}
				h.Counts = make([]uint64, len(bs))
			}
			for i, b := range bs {
				if i < len(h.Counts) {
					h.Counts[i] += b.GetCumulativeCount()
				}
			}
			h.Count += ph.GetSampleCount()
			h.Sum += ph.GetSampleSum()
		}
	}
	return h
}

// sub is h minus an earlier snapshot of the same histogram.
func (h histSnap) sub(old histSnap) histSnap {
	out := histSnap{Bounds: h.Bounds, Counts: make([]uint64, len(h.Counts)), Count: h.Count - old.Count, Sum: h.Sum - old.Sum}
	for i := range h.Counts {
		out.Counts[i] = h.Counts[i]
		if i < len(old.Counts) {
			out.Counts[i] -= old.Counts[i]
		}
	}
	return out
}

// quantile estimates the q-quantile in seconds as Prometheus's
// histogram_quantile does: linear within the bucket holding it. Beyond the
// last finite bound it returns +Inf; NaN when empty.
func (h histSnap) quantile(q float64) float64 {
	if h.Count == 0 {
		return math.NaN()
	}
	rank := q * float64(h.Count)
	prevBound, prevCount := 0.0, uint64(0)
	for i, b := range h.Bounds {
		c := h.Counts[i]
		if float64(c) >= rank {
			if c == prevCount {
				return b
			}
			return prevBound + (b-prevBound)*(rank-float64(prevCount))/float64(c-prevCount)
		}
		prevBound, prevCount = b, c
	}
	return math.Inf(1)
}
