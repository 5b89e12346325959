package jurisdiction

import (
	_ "embed"
	"slices"
)

// defaultYAML is the district shipped with Whistle.
//
//go:embed default.yaml
var defaultYAML []byte

// DefaultFilename is the name problems in the shipped file are reported under.
const DefaultFilename = "default.yaml"

// Default parses the jurisdiction shipped with Whistle (大安区: five streets
// and towns, their communities and grids, sixteen departments and a
// responsibility list across all three tiers). Each call returns a new
// value. It panics if the shipped file is invalid, which a test rules out.
func Default() *Jurisdiction {
	j, err := Parse(DefaultFilename, defaultYAML)
	if err != nil {
		panic("jurisdiction: the shipped default.yaml is invalid:\n" + err.Error())
	}
	return j
}

// DefaultYAML returns a copy of the shipped jurisdiction file.
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }
