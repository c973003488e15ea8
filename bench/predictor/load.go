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
	codes    map[int]int     // of the failed requests (0: no answer)
	lat      []time.Duration // of the successful requests, sorted
	duration time.Duration
	// CPU seconds used during the run by the load generator, the server process and redis-server.
	genCPU, serverCPU, redisCPU float64
}

// cpuPerRequest is CPU time per successful request, in microseconds.
func (r result) cpuPerRequest(seconds float64) float64 {
	return seconds / float64(max(len(r.lat), 1)) * 1e6
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

// poster sends one request body and returns the status code of the complete answer.
type poster func(body []byte) (int, error)

// attack sends requests at rate per second for d, open loop: request i is due at start + i/rate
// and is sent then on its own goroutine whether or not earlier ones have been answered. Latency
// runs from the due time, not the send time, so a generator or server that falls behind shows as
// latency (no coordinated omission).
func attack(ctx context.Context, post poster, bodies [][]byte, rate float64, d time.Duration) result {
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	lats := make([]time.Duration, n)
	ok := make([]bool, n)
	codes := make([]int, n)
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
			code, err := post(bodies[i%len(bodies)])
			lats[i], ok[i], codes[i] = time.Since(due), err == nil && code == http.StatusOK, code
		}()
	}
	wg.Wait()
	res := result{offered: rate, sent: n, duration: time.Since(start), codes: map[int]int{}}
	for i := range n {
		if ok[i] {
			res.lat = append(res.lat, lats[i])
		} else {
			res.failed++
			res.codes[codes[i]]++
		}
	}
	slices.Sort(res.lat)
	return res
}

// maxConns bounds the generator's connections per target. Requests beyond it wait for a
// connection: that wait counts as latency (it runs from the due time), and a saturated server
// cannot exhaust the file descriptors.
const maxConns = 512

// stdPoster posts with net/http's client.
func stdPoster(url string) poster {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: maxConns, MaxIdleConnsPerHost: maxConns, MaxConnsPerHost: maxConns,
		IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
	return func(body []byte) (int, error) {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
}
