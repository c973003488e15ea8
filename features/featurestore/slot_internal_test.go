package featurestore

import "testing"

// Slots from the Redis Cluster specification and redis-cli CLUSTER KEYSLOT.
func TestSlot(t *testing.T) {
	for key, want := range map[string]uint16{
		"123456789":            0x31c3,
		"foo":                  12182,
		"{user1000}.following": slot("user1000"),
		"sl:f{u-42}":           slot("u-42"),
		"a{}b":                 slot("a{}b"),
	} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
}
