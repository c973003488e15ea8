package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// result is one run at a fixed offered rate.
type result struct {
	offered  float64
	sent     int
	failed   int
	lat      []time.Duration // of the successful requests, sorted
	duration time.Duration
}

func (r result) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(r.lat)))) - 1
	return r.lat[max(i, 0)]
}

// throughput is the rate of successful responses over the run.
func (r result) throughput() float64 { return float64(len(r.lat)) / r.duration.Seconds() }

// attack sends POST requests to url at rate per second for d, open loop: request i is due at
// start + i/rate and is sent then on its own goroutine whether or not earlier ones have been
// answered. Latency runs from the due time, not the send time, so a generator or server that falls
// behind shows as latency (no coordinated omission).
func attack(ctx context.Context, client *http.Client, url string, bodies [][]byte, rate float64, d time.Duration) result {
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	lats := make([]time.Duration, n)
	ok := make([]bool, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
			if err != nil {
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lats[i], ok[i] = time.Since(due), err == nil && resp.StatusCode == http.StatusOK
		}()
	}
	wg.Wait()
	res := result{offered: rate, sent: n, duration: time.Since(start)}
	for i := range n {
		if ok[i] {
			res.lat = append(res.lat, lats[i])
		} else {
			res.failed++
		}
	}
	slices.Sort(res.lat)
	return res
}

// newClient returns a client that keeps enough idle connections for the open-loop concurrency.
func newClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
}
