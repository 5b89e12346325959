package open311

import (
	"net/http"
	"slices"

	"github.com/whistle-city/whistle/jurisdiction"
)

// services is GET services: the items of the responsibility list (those
// a client's key allows, when it sends one), in the list's order.
func (s *Server) services(w http.ResponseWriter, r *http.Request, f format) {
	k, ok := s.client(w, r, f, true)
	if !ok {
		return
	}
	j := s.cfg.Jurisdiction()
	list := services{Items: []Service{}}
	for _, it := range j.Items {
		if len(k.Items) > 0 && !slices.Contains(k.Items, it.Code) {
			continue
		}
		list.Items = append(list.Items, serviceOf(it))
	}
	write(w, f, http.StatusOK, list)
}

// serviceOf is an item as an Open311 service: realtime (a request gets its
// id at once), grouped by its domain, with metadata when it has attributes.
func serviceOf(it jurisdiction.Item) Service {
	desc := it.Name
	if it.Gloss != "" {
		desc += " (" + it.Gloss + ")"
	}
	return Service{
		ServiceCode: it.Code, ServiceName: it.Name, Description: desc, Metadata: len(it.Attributes) > 0,
		Type: "realtime", Keywords: "", Group: it.Domain,
	}
}

// definition is GET services/{code}: the item's attributes.
func (s *Server) definition(w http.ResponseWriter, r *http.Request, f format, code string) {
	if _, ok := s.client(w, r, f, true); !ok {
		return
	}
	it, ok := s.cfg.Jurisdiction().Item(code)
	if !ok {
		fail(w, f, http.StatusNotFound, "service_code "+code+" not found")
		return
	}
	def := ServiceDefinition{ServiceCode: it.Code, Attributes: []Attribute{}}
	for i, a := range it.Attributes {
		at := Attribute{
			Variable: a.IsVariable(), Code: a.Code, Datatype: string(a.Datatype), Required: a.Required,
			DatatypeDescription: a.DatatypeDescription, Order: i + 1, Description: a.Description,
		}
		for _, v := range a.Values {
			at.Values = append(at.Values, Value{Key: v.Key, Name: v.Name})
		}
		def.Attributes = append(def.Attributes, at)
	}
	write(w, f, http.StatusOK, def)
}
