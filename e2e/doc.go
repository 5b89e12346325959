// Package e2e drives the whole loop through the HTTP API on real components:
// an embedded Temporal server, a real NATS with JetStream and a real
// PostgreSQL, wired by package app exactly as `whistle dev` wires them.
package e2e
