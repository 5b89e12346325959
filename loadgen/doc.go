// Package loadgen pushes incidents through the whole loop of a running
// Whistle — report, task created, 报到 (ack), complete, on-site verification,
// return visit, closed — with simulated grid workers, departments and street
// offices, and measures how long the loop takes.
//
// It speaks only the public contract: the HTTP API of DESIGN.md §4 and the
// task events on NATS of §5 (whistle.tasks.>). Run drives the load and
// returns a Result; Percentile and Summarize are the statistics behind it.
// The `whistle bench` command is a thin wrapper around Run.
package loadgen
