package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"testing"
	"time"
)

// spin burns CPU for d.
func spin(d time.Duration) (n int) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range 10000 {
			n += i
		}
	}
	return n
}

type spinService struct{ d time.Duration }

func (s spinService) Run(context.Context) error {
	// Work in a goroutine the service starts: it inherits the label.
	var wg sync.WaitGroup
	wg.Go(func() { spin(s.d) })
	wg.Wait()
	return nil
}

func TestLabelShare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Skip("CPU profiling unavailable:", err)
	}
	if err := (labelled{spinService{400 * time.Millisecond}, "gateway"}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	spin(400 * time.Millisecond)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	gw, all, err := labelShare(path, serviceLabel, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	if all <= 0 || gw <= 0 || gw >= all {
		t.Fatalf("labelled %d of %d: want a share strictly between 0 and all", gw, all)
	}
	if share := float64(gw) / float64(all); share < .2 || share > .8 {
		t.Errorf("labelled share %.2f, want about half", share)
	}
	if other, _, err := labelShare(path, serviceLabel, "dispatcher"); err != nil || other != 0 {
		t.Errorf("another label: %d, %v", other, err)
	}
	if _, _, err := labelShare(filepath.Join(t.TempDir(), "none"), serviceLabel, "gateway"); err == nil {
		t.Error("a missing profile read without error")
	}
}
