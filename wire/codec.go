package wire

import json "github.com/segmentio/encoding/json"

// The one JSON codec of the records on the topics and in the join store: segmentio/encoding/json,
// a drop-in for encoding/json with the same semantics (FuzzCodecMatchesEncodingJSON holds it to
// them: same inputs accepted, same values decoded, same bytes encoded) at about a fifth of
// encoding/json's cost to decode an example. docs/BENCHMARKS.md, "JSON codec", compares it with
// encoding/json, goccy/go-json and bytedance/sonic (the last two were faster on some shapes but
// accept JSON that encoding/json rejects). The HTTP API keeps encoding/json's streaming decoder,
// which bounds request bodies.

// Unmarshal decodes JSON into v with encoding/json's semantics.
func Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Marshal encodes v as JSON with encoding/json's semantics.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }
