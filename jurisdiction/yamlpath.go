package jurisdiction

import (
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// nodeIndex maps field paths ("items[3].sla.ack") to the YAML nodes they
// were read from, so problems found in decoded values can name a line.
type nodeIndex struct {
	byPath map[string]*yaml.Node // mapping entries map to their key node
	byLine map[int][]located     // every node, by line, in document order
}

type located struct {
	path string
	node *yaml.Node
	key  bool // node is a mapping key
}

func newNodeIndex(root *yaml.Node) *nodeIndex {
	ix := &nodeIndex{byPath: map[string]*yaml.Node{}, byLine: map[int][]located{}}
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root != nil {
		ix.walk(root, "")
	}
	return ix
}

func (ix *nodeIndex) add(path string, n *yaml.Node, key bool) {
	if _, ok := ix.byPath[path]; !ok {
		ix.byPath[path] = n
	}
	ix.byLine[n.Line] = append(ix.byLine[n.Line], located{path, n, key})
}

func (ix *nodeIndex) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		if path == "" {
			ix.add("", n, false)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ix.add(p, k, true)
			ix.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			ix.add(p, e, false)
			ix.walk(e, p)
		}
	case yaml.ScalarNode:
		ix.byLine[n.Line] = append(ix.byLine[n.Line], located{path, n, false})
	}
	// Aliases are not followed: their target is indexed where it is defined.
}

// has reports whether path was present in the file.
func (ix *nodeIndex) has(path string) bool {
	_, ok := ix.byPath[path]
	return ok
}

// kind returns the kind of the node at path: the element itself for a list
// element, the key for a mapping entry; 0 when path is not in the file.
func (ix *nodeIndex) kind(path string) yaml.Kind {
	if n, ok := ix.byPath[path]; ok {
		return resolveAlias(n).Kind
	}
	return 0
}

// line returns the line of path, or of its nearest ancestor present in the
// file when path itself is missing (a required field that is absent is
// reported where it should have been).
func (ix *nodeIndex) line(path string) int {
	for {
		if n, ok := ix.byPath[path]; ok {
			return n.Line
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// parentPath strips the last segment: a.b[2].c → a.b[2] → a.b → a → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

var (
	lineRE     = regexp.MustCompile(`^line (\d+): (?:column (\d+): )?(.*)$`)
	notFoundRE = regexp.MustCompile(`^field (.+) not found in type (\S+)$`)
	dupKeyRE   = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	cannotRE   = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
)

// decodeProblem turns one message of a *yaml.TypeError into a Problem,
// finding the field path from the line (and column or value) it names.
func (ix *nodeIndex) decodeProblem(file, msg string) Problem {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return Problem{File: file, Message: msg}
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	text := m[3]
	p := Problem{File: file, Line: line, Message: text}
	cands := ix.byLine[line]
	pick := func(match func(located) bool) {
		for _, c := range cands {
			if match(c) {
				p.Field = c.path
				return
			}
		}
	}
	switch {
	case col > 0:
		pick(func(c located) bool { return !c.key && c.node.Column == col })
	case notFoundRE.MatchString(text):
		sm := notFoundRE.FindStringSubmatch(text)
		p.Message = "unknown field " + strconv.Quote(sm[1])
		pick(func(c located) bool { return c.key && c.node.Value == sm[1] })
	case dupKeyRE.MatchString(text):
		sm := dupKeyRE.FindStringSubmatch(text)
		p.Message = "duplicate key " + strconv.Quote(sm[1]) + " (first at line " + sm[2] + ")"
		// Both keys index to the same path; name it.
		pick(func(c located) bool { return c.key && c.node.Value == sm[1] })
	case cannotRE.MatchString(text):
		sm := cannotRE.FindStringSubmatch(text)
		val := strings.TrimSuffix(sm[2], "...")
		p.Message = "want " + typeWord(sm[3]) + ", got " + kindWord(sm[1], sm[2])
		pick(func(c located) bool {
			return !c.key && c.node.Tag == sm[1] && strings.HasPrefix(c.node.Value, val)
		})
	}
	if p.Field == "" && len(cands) > 0 {
		p.Field = cands[0].path
	}
	return p
}

// typeWord names a Go type the way a file's author thinks of it.
func typeWord(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "jurisdiction."), strings.HasPrefix(goType, "*jurisdiction."):
		return "a mapping"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case goType == "bool":
		return "true or false"
	case goType == "string", goType == "incident.Tier":
		return "a string"
	}
	return goType
}

// kindWord describes what the file had instead.
func kindWord(tag, value string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	}
	if value != "" {
		return strconv.Quote(value)
	}
	return tag
}
