package jurisdiction

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Datatype is the type of an attribute's answer, as Open311 GeoReport v2
// names them.
type Datatype string

// The datatypes of GeoReport v2.
const (
	DatatypeString          Datatype = "string"          // a line of text
	DatatypeNumber          Datatype = "number"          // a decimal number
	DatatypeDatetime        Datatype = "datetime"        // a W3C datetime with its zone
	DatatypeText            Datatype = "text"            // free text
	DatatypeSingleValueList Datatype = "singlevaluelist" // one key of Values
	DatatypeMultiValueList  Datatype = "multivaluelist"  // one or more keys of Values
)

// Bounds of an attribute's answers.
const (
	MaxAttributeStringLen = 500
	MaxAttributeTextLen   = 4000
	MaxAttributeValues    = 50
)

// Attribute is a question a report of an item answers beyond its
// description (an Open311 service attribute): the depth of a pothole, the
// kind of waste. Its order is its place in the item's list.
type Attribute struct {
	Code     string   `yaml:"code" json:"code"`
	Datatype Datatype `yaml:"datatype" json:"datatype"`
	// Description is the question, as the reporter reads it.
	Description         string `yaml:"description" json:"description"`
	DatatypeDescription string `yaml:"datatype_description,omitempty" json:"datatype_description,omitempty"`
	Required            bool   `yaml:"required,omitempty" json:"required,omitempty"`
	// Variable false marks an attribute that only informs (no answer is
	// asked); true when left out.
	Variable *bool            `yaml:"variable,omitempty" json:"variable,omitempty"`
	Values   []AttributeValue `yaml:"values,omitempty" json:"values,omitempty"`
}

// AttributeValue is one choice of a list attribute.
type AttributeValue struct {
	Key  string `yaml:"key" json:"key"`
	Name string `yaml:"name" json:"name"`
}

// IsVariable reports whether the attribute asks for an answer.
func (a Attribute) IsVariable() bool { return a.Variable == nil || *a.Variable }

// check returns what is wrong with the attribute's definition.
func (a Attribute) check() []string {
	var bad []string
	if a.Code == "" || len(a.Code) > 64 || strings.ContainsAny(a.Code, "[]") {
		bad = append(bad, fmt.Sprintf("attribute code %q: 1 to 64 bytes without brackets", a.Code))
	}
	switch a.Datatype {
	case DatatypeString, DatatypeNumber, DatatypeDatetime, DatatypeText:
		if len(a.Values) > 0 {
			bad = append(bad, fmt.Sprintf("attribute %s: values belong to a singlevaluelist or multivaluelist, not a %s", a.Code, a.Datatype))
		}
	case DatatypeSingleValueList, DatatypeMultiValueList:
		if len(a.Values) == 0 {
			bad = append(bad, fmt.Sprintf("attribute %s: a %s needs values", a.Code, a.Datatype))
		}
		seen := map[string]bool{}
		for _, v := range a.Values {
			if v.Key == "" || v.Name == "" {
				bad = append(bad, fmt.Sprintf("attribute %s: every value needs a key and a name", a.Code))
			}
			if seen[v.Key] {
				bad = append(bad, fmt.Sprintf("attribute %s: value key %q twice", a.Code, v.Key))
			}
			seen[v.Key] = true
		}
	default:
		bad = append(bad, fmt.Sprintf("attribute %s: datatype %q is not one of string, number, datetime, text, singlevaluelist, multivaluelist", a.Code, a.Datatype))
	}
	if a.Required && !a.IsVariable() {
		bad = append(bad, fmt.Sprintf("attribute %s: required, but variable is false (nothing is asked)", a.Code))
	}
	return bad
}

// AnswerProblem is one answer CheckAnswers refused, by attribute code.
type AnswerProblem struct {
	Code    string
	Message string
}

// CheckAnswers checks the answers of a report of the item against its
// attributes: every required one answered, each answer of its datatype
// (a list's keys among its values, a number a number, a datetime a W3C
// datetime with its zone), one answer unless a multivaluelist. It returns
// the answers to keep (those of the item's variable attributes, empty
// ones dropped; answers to codes the item does not have are ignored, as
// Open311 clients send extra fields) and every problem.
func (it Item) CheckAnswers(given map[string][]string) (map[string][]string, []AnswerProblem) {
	var keep map[string][]string
	var bad []AnswerProblem
	for _, a := range it.Attributes {
		if !a.IsVariable() {
			continue
		}
		var vals []string
		for _, v := range given[a.Code] {
			if v = strings.TrimSpace(v); v != "" {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			if a.Required {
				bad = append(bad, AnswerProblem{a.Code, "is required: " + a.Description})
			}
			continue
		}
		if a.Datatype != DatatypeMultiValueList && len(vals) > 1 {
			bad = append(bad, AnswerProblem{a.Code, fmt.Sprintf("takes one answer, not %d", len(vals))})
			continue
		}
		if len(vals) > MaxAttributeValues {
			bad = append(bad, AnswerProblem{a.Code, fmt.Sprintf("takes at most %d answers", MaxAttributeValues)})
			continue
		}
		ok := true
		for _, v := range vals {
			if msg := a.checkAnswer(v); msg != "" {
				bad, ok = append(bad, AnswerProblem{a.Code, msg}), false
			}
		}
		if ok {
			if keep == nil {
				keep = map[string][]string{}
			}
			keep[a.Code] = vals
		}
	}
	return keep, bad
}

// checkAnswer returns why v is not an answer of a's datatype, or "".
func (a Attribute) checkAnswer(v string) string {
	switch a.Datatype {
	case DatatypeNumber:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Sprintf("%q is not a number", v)
		}
	case DatatypeDatetime:
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return fmt.Sprintf("%q is not a W3C datetime with a zone, such as 2026-12-03T08:15:30+08:00", v)
		}
	case DatatypeString:
		if len(v) > MaxAttributeStringLen {
			return fmt.Sprintf("is longer than %d bytes", MaxAttributeStringLen)
		}
	case DatatypeText:
		if len(v) > MaxAttributeTextLen {
			return fmt.Sprintf("is longer than %d bytes", MaxAttributeTextLen)
		}
	case DatatypeSingleValueList, DatatypeMultiValueList:
		if !slices.ContainsFunc(a.Values, func(x AttributeValue) bool { return x.Key == v }) {
			keys := make([]string, len(a.Values))
			for i, x := range a.Values {
				keys[i] = x.Key
			}
			return fmt.Sprintf("%q is not one of %s", v, strings.Join(keys, ", "))
		}
	}
	return ""
}
