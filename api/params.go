package api

import (
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// OptionalBool is a boolean query parameter that may be left out: Set
// reports whether the request carried it.
type OptionalBool struct {
	Value bool
	Set   bool
}

// Schema documents the parameter as a boolean.
func (o OptionalBool) Schema(r huma.Registry) *huma.Schema {
	return huma.SchemaFromType(r, reflect.TypeFor[bool]())
}

// Receiver is where huma parses the parameter into.
func (o *OptionalBool) Receiver() reflect.Value { return reflect.ValueOf(o).Elem().Field(0) }

// OnParamSet records whether the parameter was present.
func (o *OptionalBool) OnParamSet(isSet bool, _ any) { o.Set = isSet }

// Ptr returns a pointer to the value, or nil when the parameter was absent.
func (o OptionalBool) Ptr() *bool {
	if !o.Set {
		return nil
	}
	v := o.Value
	return &v
}
