package learner

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// BundleFormat names the export file format.
const BundleFormat = "streamlearn.model/v1"

// MaxBundleBytes bounds an export file that ReadBundle accepts (256 MiB).
const MaxBundleBytes = 256 << 20

// Bundle is one model snapshot in a portable file (streamlearn models export): its version
// metadata (spec, lineage, report), the feature plan it was trained with, its weights and a
// checksum over the three.
type Bundle struct {
	Format     string          `json:"format"`
	ExportedAt time.Time       `json:"exported_at"`
	Version    json.RawMessage `json:"version"`
	Features   json.RawMessage `json:"features"`
	Snapshot   []byte          `json:"snapshot"`
	SHA256     string          `json:"sha256"`
}

// NewBundle builds the bundle of a version with its weights and feature plan (any JSON value).
func NewBundle(v Version, snapshot []byte, features any) (*Bundle, error) {
	vb, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("bundle: version: %w", err)
	}
	fb, err := json.Marshal(features)
	if err != nil {
		return nil, fmt.Errorf("bundle: features: %w", err)
	}
	b := &Bundle{Format: BundleFormat, ExportedAt: time.Now().UTC(), Version: vb, Features: fb, Snapshot: snapshot}
	b.SHA256 = b.checksum()
	return b, nil
}

// checksum is the SHA-256 of the version and the features (as compact JSON, so indentation does
// not count) and the snapshot, each length-prefixed.
func (b *Bundle) checksum() string {
	h := sha256.New()
	compact := func(raw []byte) []byte {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			return raw
		}
		return buf.Bytes()
	}
	for _, part := range [][]byte{compact(b.Version), compact(b.Features), b.Snapshot} {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// WriteTo writes the bundle as JSON.
func (b *Bundle) WriteTo(w io.Writer) (int64, error) {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return 0, err
	}
	n, err := w.Write(append(data, '\n'))
	return int64(n), err
}

// ErrBadBundle is returned for a file that is not an intact bundle.
var ErrBadBundle = errors.New("not an intact model bundle")

// ReadBundle reads a bundle of at most MaxBundleBytes and checks its format, checksum and weights;
// it returns the version metadata and the decoded snapshot too.
func ReadBundle(r io.Reader) (*Bundle, Version, *Snapshot, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBundleBytes+1))
	if err != nil {
		return nil, Version{}, nil, fmt.Errorf("read bundle: %w", err)
	}
	if len(data) > MaxBundleBytes {
		return nil, Version{}, nil, fmt.Errorf("%w: larger than %d bytes", ErrBadBundle, MaxBundleBytes)
	}
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, Version{}, nil, fmt.Errorf("%w: %v", ErrBadBundle, err)
	}
	if b.Format != BundleFormat {
		return nil, Version{}, nil, fmt.Errorf("%w: format %q, want %q", ErrBadBundle, b.Format, BundleFormat)
	}
	if got := b.checksum(); got != b.SHA256 {
		return nil, Version{}, nil, fmt.Errorf("%w: checksum %s, the file says %s", ErrBadBundle, got, b.SHA256)
	}
	var v Version
	if err := json.Unmarshal(b.Version, &v); err != nil {
		return nil, Version{}, nil, fmt.Errorf("%w: version: %v", ErrBadBundle, err)
	}
	s, err := UnmarshalSnapshot(b.Snapshot)
	if err != nil {
		return nil, Version{}, nil, fmt.Errorf("%w: %v", ErrBadBundle, err)
	}
	if s.Spec().Name != v.Model {
		return nil, Version{}, nil, fmt.Errorf("%w: weights of model %q under version of %q", ErrBadBundle, s.Spec().Name, v.Model)
	}
	return &b, v, s, nil
}

// RenameSnapshot returns the encoded snapshot data with its model named name.
func RenameSnapshot(data []byte, name string) ([]byte, error) {
	s, err := UnmarshalSnapshot(data)
	if err != nil {
		return nil, err
	}
	s.rename(name)
	return s.MarshalBinary()
}
