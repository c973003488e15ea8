// Package faults is the fault suite: it runs the real `streamlearn` binary as subprocesses on
// private Redis and ClickHouse servers and a Kafka-protocol broker, injects one fault per case
// (SIGKILL of a role, Redis or ClickHouse down, the embedded broker restarted, poison records,
// Redis at maxmemory, clock skew, two replicas) while a stream of events and outcomes flows, and
// asserts exact counts: every event one prediction row, every outcome joined once, every example
// learned once, and every poison record in the dead-letter topic with its reason.
//
// The package has tests only; docs/RELIABILITY.md describes the cases and their measured results.
// Long cases run only with STREAMLEARN_FAULTS=1 (make faults); FAULTS_REPORT=FILE writes every
// case's numbers as JSON.
package faults
