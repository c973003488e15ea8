package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawClient posts HTTP/1.1 requests over persistent TCP connections with a fraction of net/http's
// client-side CPU, so that on a small machine the generator leaves the cores to the servers. It
// supports what the two targets answer: a status line, headers and a Content-Length body.
type rawClient struct {
	addr, host, path string
	idle             chan *rawConn
	slots            chan struct{} // one per open connection, at most maxConns
}

type rawConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

func newRawClient(target string, maxConns int) (*rawClient, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("raw client: only http, not %q", u.Scheme)
	}
	return &rawClient{addr: u.Host, host: u.Host, path: u.RequestURI(), idle: make(chan *rawConn, maxConns), slots: make(chan struct{}, maxConns)}, nil
}

// conn returns an idle connection, a new one while fewer than maxConns are open, or waits.
func (rc *rawClient) conn() (*rawConn, error) {
	select {
	case c := <-rc.idle:
		return c, nil
	default:
	}
	select {
	case c := <-rc.idle:
		return c, nil
	case rc.slots <- struct{}{}:
		c, err := net.DialTimeout("tcp", rc.addr, 5*time.Second)
		if err != nil {
			<-rc.slots
			return nil, err
		}
		return &rawConn{c: c, r: bufio.NewReaderSize(c, 4096)}, nil
	}
}

func (rc *rawClient) discard(c *rawConn) {
	c.c.Close()
	<-rc.slots
}

// post sends body and reads the whole answer; it returns the status code.
func (rc *rawClient) post(body []byte) (int, error) {
	c, err := rc.conn()
	if err != nil {
		return 0, err
	}
	c.buf = append(c.buf[:0], "POST "...)
	c.buf = append(c.buf, rc.path...)
	c.buf = append(c.buf, " HTTP/1.1\r\nHost: "...)
	c.buf = append(c.buf, rc.host...)
	c.buf = append(c.buf, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	c.buf = strconv.AppendInt(c.buf, int64(len(body)), 10)
	c.buf = append(c.buf, "\r\n\r\n"...)
	c.buf = append(c.buf, body...)
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.c.Write(c.buf); err != nil {
		rc.discard(c)
		return 0, err
	}
	code, keep, err := readResponse(c.r)
	if err != nil || !keep {
		rc.discard(c)
		return code, err
	}
	rc.idle <- c
	return code, nil
}

var errNoLength = errors.New("raw client: response without Content-Length")

// readResponse reads a status line, headers and a Content-Length body.
func readResponse(r *bufio.Reader) (code int, keepAlive bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, false, fmt.Errorf("raw client: bad status line %q", line)
	}
	if code, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("raw client: bad status line %q", line)
	}
	length, keepAlive := -1, true
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return code, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, _ := bytes.Cut(h, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return code, false, fmt.Errorf("raw client: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keepAlive = false
		}
	}
	if length < 0 {
		return code, false, errNoLength
	}
	if _, err := r.Discard(length); err != nil {
		return code, false, fmt.Errorf("raw client: body: %w", err)
	}
	return code, keepAlive, nil
}
