package features

// Checksum exposes the state checksum to the fuzz tests.
var Checksum = checksum
