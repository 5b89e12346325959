// Package jurisdiction reads the jurisdiction file (DESIGN.md §3): the
// district, its departments, streets, communities and grids, the
// responsibility list (属地管理事项清单) with each item's tier, lead and
// cooperating departments and SLAs, the assessment weights, the escalation
// ladder and the working-day calendar.
//
// Parse validates a file completely and reports every problem with file,
// line and field (see ValidationError). Duration is an SLA length in clock
// time ("2h") or working days ("3wd"); Calendar turns working days into
// deadlines using the official Chinese holiday calendar shipped in the binary
// (Official) plus the file's local overrides. Grids may have boundaries
// (GeoJSON polygons); Locate finds the grid of a location. Default returns
// the district shipped with Whistle.
//
// The package is pure Go: apart from reading the file in Load it does no I/O,
// and Calendar and Duration are plain data with deterministic methods, so
// they can travel inside Temporal workflow inputs.
package jurisdiction
