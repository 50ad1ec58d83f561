package main

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/pushfleet/pushfleet/internal/fleet"
)

// serviceLabel is the pprof label key under which a labelled service's
// goroutines run in the fleet process.
const serviceLabel = "pushbench_service"

// labelled runs a service with a pprof label: every goroutine it starts
// inherits it (for the gateway: the HTTP server's per-connection
// goroutines, its handlers and their publishes), so that the fleet
// process's CPU profile tells that service's CPU from the rest.
type labelled struct {
	fleet.Service
	name string
}

func (l labelled) Run(ctx context.Context) error {
	var err error
	pprof.Do(ctx, pprof.Labels(serviceLabel, l.name), func(ctx context.Context) { err = l.Service.Run(ctx) })
	return err
}

// labelShare reads a CPU profile (runtime/pprof's gzipped profile.proto)
// and returns the CPU time of the samples labelled key=value (lab) and of all
// samples, in the profile's last sample value (nanoseconds for CPU).
func labelShare(path, key, value string) (lab, total int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, 0, fmt.Errorf("profile %s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, 1<<30))
	if err != nil {
		return 0, 0, fmt.Errorf("profile %s: %w", path, err)
	}
	type sample struct {
		v      int64
		labels [][2]int64 // key, str string indexes
	}
	var samples []sample
	var strs []string
	err = pbFields(b, func(field int, wire int, v uint64, data []byte) error {
		switch {
		case field == 2 && wire == 2: // Sample
			var s sample
			err := pbFields(data, func(field int, wire int, v uint64, data []byte) error {
				switch {
				case field == 2 && wire == 0: // value, unpacked
					s.v = int64(v)
				case field == 2 && wire == 2: // value, packed: keep the last
					for len(data) > 0 {
						x, n := binary.Uvarint(data)
						if n <= 0 {
							return errors.New("bad packed value")
						}
						s.v, data = int64(x), data[n:]
					}
				case field == 3 && wire == 2: // Label
					var l [2]int64
					err := pbFields(data, func(field int, wire int, v uint64, _ []byte) error {
						if wire == 0 && (field == 1 || field == 2) {
							l[field-1] = int64(v)
						}
						return nil
					})
					if err != nil {
						return err
					}
					s.labels = append(s.labels, l)
				}
				return nil
			})
			if err != nil {
				return err
			}
			samples = append(samples, s)
		case field == 6 && wire == 2: // string_table
			strs = append(strs, string(data))
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("profile %s: %w", path, err)
	}
	str := func(i int64) string {
		if i >= 0 && i < int64(len(strs)) {
			return strs[i]
		}
		return ""
	}
	for _, s := range samples {
		total += s.v
		for _, l := range s.labels {
			if str(l[0]) == key && str(l[1]) == value {
				lab += s.v
				break
			}
		}
	}
	return lab, total, nil
}

// pbFields calls fn for every field of a protobuf message: its number, wire
// type, value (varint and fixed) or data (length-delimited).
func pbFields(b []byte, fn func(field, wire int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad protobuf tag")
		}
		b = b[n:]
		field, wire := int(tag>>3), int(tag&7)
		var v uint64
		var data []byte
		switch wire {
		case 0:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return errors.New("bad protobuf varint")
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errors.New("short protobuf fixed64")
			}
			v, b = binary.LittleEndian.Uint64(b), b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errors.New("bad protobuf length")
			}
			data, b = b[n:n+int(l)], b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return errors.New("short protobuf fixed32")
			}
			v, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		default:
			return fmt.Errorf("protobuf wire type %d", wire)
		}
		if err := fn(field, wire, v, data); err != nil {
			return err
		}
	}
	return nil
}
