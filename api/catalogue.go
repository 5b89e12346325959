package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/catalogue"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// CatalogueSLA is an item's deadlines, as durations ("2h0m0s") or working
// days ("3wd").
type CatalogueSLA struct {
	Ack      string `json:"ack" example:"1h0m0s"`
	Resolve  string `json:"resolve" example:"3wd"`
	Feedback string `json:"feedback" example:"3wd"`
}

// CatalogueEscalation is an item's own escalation ladder, overriding the
// district's.
type CatalogueEscalation struct {
	WarnAt float64  `json:"warn_at,omitempty" exclusiveMinimum:"0" exclusiveMaximum:"1" example:"0.8" doc:"Share of an SLA after which a warning is raised; the district's when left out."`
	Levels []string `json:"levels,omitempty" maxItems:"20" example:"[\"0s\",\"2h\",\"1wd\"]" doc:"Delays after a missed deadline at which each escalation level is reached, increasing; the district's when left out."`
}

// CatalogueItem is one item of the responsibility list (属地管理事项).
type CatalogueItem struct {
	Code        string                   `json:"code" example:"SR-001"`
	Version     int                      `json:"version" example:"1" doc:"The item's version in the living list (1, 2, …); GET /v1/catalogue/items/{code}/history lists them."`
	Name        string                   `json:"name" example:"占道经营"`
	Gloss       string                   `json:"gloss" example:"street vending that blocks the road"`
	Domain      string                   `json:"domain" example:"市容环境"`
	Tier        incident.Tier            `json:"tier" enum:"community,street,department"`
	Lead        string                   `json:"lead" doc:"Department with primary responsibility (主体责任)."`
	Cooperating []string                 `json:"cooperating" doc:"Departments with cooperating responsibility (配合责任)."`
	LegalBasis  string                   `json:"legal_basis"`
	SLA         CatalogueSLA             `json:"sla"`
	Escalation  *CatalogueEscalation     `json:"escalation,omitempty" doc:"The item's own escalation ladder, when it has one."`
	Attributes  []jurisdiction.Attribute `json:"attributes,omitempty" doc:"Questions a report of the item answers beyond its description (Open311 service attributes), in order: POST /v1/reports takes the answers as attributes, Open311 as attribute[code]."`
}

// CatalogueDistrict is the district the catalogue belongs to.
type CatalogueDistrict struct {
	Code     string `json:"code" example:"DA"`
	Name     string `json:"name" example:"大安区"`
	Timezone string `json:"timezone" example:"Asia/Shanghai"`
}

// CatalogueDepartment is a department or stationed agency.
type CatalogueDepartment struct {
	Code        string `json:"code" example:"CG"`
	Name        string `json:"name" example:"区城市管理局"`
	Enforcement bool   `json:"enforcement" doc:"An enforcement team the street commands directly."`
}

// CatalogueCommunity is a community and its grids.
type CatalogueCommunity struct {
	Code  string   `json:"code" example:"FH-01"`
	Name  string   `json:"name" example:"凤凰社区"`
	Grids []string `json:"grids"`
}

// CatalogueStreet is a street office and its communities.
type CatalogueStreet struct {
	Code        string               `json:"code" example:"FH"`
	Name        string               `json:"name" example:"凤凰街道"`
	Communities []CatalogueCommunity `json:"communities"`
}

// Catalogue is the responsibility list with the organisation it refers to.
type Catalogue struct {
	District    CatalogueDistrict     `json:"district"`
	Items       []CatalogueItem       `json:"items"`
	Departments []CatalogueDepartment `json:"departments"`
	Streets     []CatalogueStreet     `json:"streets"`
}

type catalogueOutput struct {
	Body Catalogue
}

func (s *Server) registerCatalogue() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "getCatalogue", Method: http.MethodGet, Path: "/v1/catalogue", Tags: []string{"Catalogue"},
		Summary:     "The responsibility list",
		Description: "Every item of the responsibility list (属地管理事项清单) with its tier, departments and deadlines, and the district's departments, streets, communities and grids.",
	}), func(ctx context.Context, _ *struct{}) (*catalogueOutput, error) {
		return &catalogueOutput{Body: catalogueOf(s.jur())}, nil
	})
	s.registerCatalogueItems()
}

// catalogueOf builds the catalogue of j.
func catalogueOf(j *jurisdiction.Jurisdiction) Catalogue {
	c := Catalogue{
		District:    CatalogueDistrict{Code: j.District.Code, Name: j.District.Name, Timezone: j.Timezone()},
		Items:       make([]CatalogueItem, len(j.Items)),
		Departments: make([]CatalogueDepartment, len(j.Departments)),
		Streets:     make([]CatalogueStreet, len(j.Streets)),
	}
	for i, it := range j.Items {
		c.Items[i] = catalogueItemOf(it)
	}
	for i, d := range j.Departments {
		c.Departments[i] = CatalogueDepartment{Code: d.Code, Name: d.Name, Enforcement: d.Enforcement}
	}
	for i, st := range j.Streets {
		cs := CatalogueStreet{Code: st.Code, Name: st.Name, Communities: make([]CatalogueCommunity, len(st.Communities))}
		for k, cm := range st.Communities {
			grids := cm.Grids
			if grids == nil {
				grids = []string{}
			}
			cs.Communities[k] = CatalogueCommunity{Code: cm.Code, Name: cm.Name, Grids: grids}
		}
		c.Streets[i] = cs
	}
	return c
}

// catalogueItemOf is it as the API shows it.
func catalogueItemOf(it jurisdiction.Item) CatalogueItem {
	coop := it.Cooperating
	if coop == nil {
		coop = []string{}
	}
	out := CatalogueItem{
		Code: it.Code, Version: it.Version, Name: it.Name, Gloss: it.Gloss, Domain: it.Domain, Tier: it.Tier, Lead: it.Lead,
		Cooperating: coop, LegalBasis: it.LegalBasis, Attributes: it.Attributes,
		SLA: CatalogueSLA{Ack: it.SLA.Ack.String(), Resolve: it.SLA.Resolve.String(), Feedback: it.SLA.Feedback.String()},
	}
	if e := it.Escalation; e != nil {
		out.Escalation = &CatalogueEscalation{WarnAt: e.WarnAt, Levels: make([]string, len(e.Levels))}
		for k, l := range e.Levels {
			out.Escalation.Levels[k] = l.String()
		}
	}
	return out
}

// LiveCatalogue is the living responsibility list the catalogue endpoints
// read and change; *catalogue.Catalogue implements it.
type LiveCatalogue interface {
	// Lookup returns the latest version of an item, retired ones included.
	Lookup(code string) (catalogue.Version, bool)
	// History returns every version of an item, oldest first; an unknown
	// code is a CodeNotFound error.
	History(ctx context.Context, code string) ([]catalogue.Version, error)
	// Put adds or changes an item (a new version), validating it like the
	// jurisdiction file; it reports whether the item is new.
	Put(ctx context.Context, actor string, it jurisdiction.Item, reason string, expected *int) (catalogue.Version, bool, error)
	// Retire retires an item (a new, retired version).
	Retire(ctx context.Context, actor, code, reason string, expected *int) (catalogue.Version, error)
}

var _ LiveCatalogue = (*catalogue.Catalogue)(nil)

// CatalogueSLARequest is an item's deadlines in a PUT: Go durations ("2h",
// "90m") or working days ("3wd").
type CatalogueSLARequest struct {
	Ack      string `json:"ack,omitempty" maxLength:"32" example:"1h" doc:"A called department must acknowledge (报到) within this; required for department tier."`
	Resolve  string `json:"resolve" maxLength:"32" example:"3wd" doc:"The matter must be handled within this."`
	Feedback string `json:"feedback" maxLength:"32" example:"3wd" doc:"The return-visit window; after it the incident closes unrated."`
}

// CatalogueItemRequest is the body of PUT /v1/catalogue/items/{code}: the
// item as in the jurisdiction file, and why it is added or changed.
type CatalogueItemRequest struct {
	Code        string                   `json:"code,omitempty" maxLength:"64" example:"SR-001" doc:"Optional; when given it must equal the code in the path."`
	Name        string                   `json:"name" maxLength:"200" example:"占道经营"`
	Gloss       string                   `json:"gloss,omitempty" maxLength:"500" example:"street vending that blocks the road"`
	Domain      string                   `json:"domain,omitempty" maxLength:"100" example:"市容环境"`
	Tier        incident.Tier            `json:"tier" enum:"community,street,department" doc:"Who handles it: the community, the street, or departments whistled by the street."`
	Lead        string                   `json:"lead,omitempty" maxLength:"64" example:"CG" doc:"Department with primary responsibility (主体责任); required for department tier."`
	Cooperating []string                 `json:"cooperating,omitempty" maxItems:"50" doc:"Departments with cooperating responsibility (配合责任): not the lead, no repeats."`
	LegalBasis  string                   `json:"legal_basis,omitempty" maxLength:"500" example:"《城市市容和环境卫生管理条例》"`
	SLA         CatalogueSLARequest      `json:"sla"`
	Escalation  *CatalogueEscalation     `json:"escalation,omitempty" doc:"Overrides the district's escalation for this item; what it leaves out is the district's."`
	Attributes  []jurisdiction.Attribute `json:"attributes,omitempty" maxItems:"50" doc:"Questions a report answers beyond its description (docs/jurisdiction.md); left out, the item has none."`
	Reason      string                   `json:"reason" minLength:"1" maxLength:"2000" example:"the street vending item moves to market supervision" doc:"Why the item is added or changed; kept in its history."`
	// ExpectedVersion guards against two admins editing at once.
	ExpectedVersion *int `json:"expected_version,omitempty" minimum:"0" doc:"The version this change is based on (0: the item must be new). When the item is at another version the PUT answers 409 and writes nothing."`
}

// CatalogueItemVersion is one version of an item of the list: the item and
// who changed it, when and why.
type CatalogueItemVersion struct {
	Code    string        `json:"code" example:"SR-001"`
	Version int           `json:"version" example:"2"`
	Retired bool          `json:"retired" doc:"The version retired the item: it can no longer be reported; item repeats its last content."`
	Source  string        `json:"source" enum:"file,api" doc:"Who wrote it: the jurisdiction file at start, or an admin through the API."`
	Actor   string        `json:"actor" example:"admin:DA:alice" doc:"The admin (role:org:sub), or \"jurisdiction file <name>\"."`
	Reason  string        `json:"reason" example:"the street vending item moves to market supervision"`
	At      time.Time     `json:"at" doc:"When the version was written."`
	Item    CatalogueItem `json:"item"`
}

// CatalogueHistory is the body of GET /v1/catalogue/items/{code}/history.
type CatalogueHistory struct {
	Code     string                 `json:"code" example:"SR-001"`
	Versions []CatalogueItemVersion `json:"versions" doc:"Every version, oldest first."`
}

type itemPath struct {
	Code string `path:"code" maxLength:"64" example:"SR-001" doc:"The item's code."`
}

type putItemInput struct {
	Code string `path:"code" maxLength:"64" example:"SR-001" doc:"The item's code."`
	Body CatalogueItemRequest
}

type retireItemInput struct {
	Code   string `path:"code" maxLength:"64" example:"SR-001" doc:"The item's code."`
	Reason string `query:"reason" required:"true" minLength:"1" maxLength:"2000" doc:"Why the item is retired; kept in its history."`
}

type itemVersionOutput struct {
	Status   int
	Location string `header:"Location" doc:"/v1/catalogue/items/{code}, when the item was created."`
	Body     CatalogueItemVersion
}

type itemHistoryOutput struct {
	Body CatalogueHistory
}

func (s *Server) registerCatalogueItems() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "getCatalogueItem", Method: http.MethodGet, Path: "/v1/catalogue/items/{code}", Tags: []string{"Catalogue"},
		Summary: "One item of the responsibility list",
		Description: "The item's current version, with who wrote it, when and why. A retired item still answers, " +
			"with `retired: true` and the time, author and reason of its retirement.",
		Errors: []int{http.StatusNotFound},
	}), func(ctx context.Context, in *itemPath) (*itemVersionOutput, error) {
		if s.cfg.Catalogue == nil {
			it, ok := s.jur().Item(in.Code)
			if !ok {
				return nil, newProblem(http.StatusNotFound, "no item %q in the responsibility list", in.Code)
			}
			return &itemVersionOutput{Status: http.StatusOK, Body: CatalogueItemVersion{Code: it.Code, Version: it.Version,
				Source: "file", Item: catalogueItemOf(it)}}, nil
		}
		v, ok := s.cfg.Catalogue.Lookup(in.Code)
		if !ok {
			return nil, newProblem(http.StatusNotFound, "no item %q in the responsibility list", in.Code)
		}
		return &itemVersionOutput{Status: http.StatusOK, Body: itemVersionOf(v)}, nil
	})

	huma.Register(s.api, secured(huma.Operation{
		OperationID: "getCatalogueItemHistory", Method: http.MethodGet, Path: "/v1/catalogue/items/{code}/history", Tags: []string{"Catalogue"},
		Summary: "Every version of an item",
		Description: "Every version of the item, oldest first: its content, whether it retired the item, and who " +
			"wrote it (the jurisdiction file or an admin), when and why.",
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}), func(ctx context.Context, in *itemPath) (*itemHistoryOutput, error) {
		if s.cfg.Catalogue == nil {
			return nil, unavailable("the responsibility list has no history here: no catalogue configured")
		}
		vs, err := s.cfg.Catalogue.History(ctx, in.Code)
		if err != nil {
			return nil, s.fail(ctx, err, "path", "read the item's history")
		}
		out := &itemHistoryOutput{Body: CatalogueHistory{Code: in.Code, Versions: make([]CatalogueItemVersion, len(vs))}}
		for i, v := range vs {
			out.Body.Versions[i] = itemVersionOf(v)
		}
		return out, nil
	})

	huma.Register(s.api, secured(huma.Operation{
		OperationID: "putCatalogueItem", Method: http.MethodPut, Path: "/v1/catalogue/items/{code}", Tags: []string{"Catalogue"},
		Summary: "Add or change an item",
		Description: "Adds the item (201) or writes a new version of it (200), validated exactly like an item of the " +
			"jurisdiction file (known lead and cooperating departments, a valid tier, SLA durations that parse and are " +
			"positive, lead and ack for department tier, a valid escalation ladder). A retired item is brought back. " +
			"A body identical to the current version writes nothing and answers it (200). Incidents already started " +
			"keep the version they started with. `expected_version` makes the change conditional (409 when the item " +
			"has moved on). Only an admin of the district.",
		MaxBodyBytes: MaxCommandBytes,
		Errors:       []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, incident.RoleAdmin), s.putCatalogueItem)

	huma.Register(s.api, secured(huma.Operation{
		OperationID: "retireCatalogueItem", Method: http.MethodDelete, Path: "/v1/catalogue/items/{code}", Tags: []string{"Catalogue"},
		Summary: "Retire an item",
		Description: "Retires the item (a new version marked retired, with the `reason` query parameter): reports of " +
			"it are refused from then on (422), incidents already started carry on with their own copy of the item, " +
			"and its history stays. 404 for an unknown item, 409 for one already retired. Only an admin of the district.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, incident.RoleAdmin), s.retireCatalogueItem)
}

// checkAdmin refuses an admin of another district.
func (s *Server) checkAdmin(a incident.Actor) error {
	if d := s.jur().District.Code; a.Org != d {
		return newProblem(http.StatusForbidden, "admin of %s may not manage the responsibility list of district %s", a.Org, d)
	}
	return nil
}

func (s *Server) putCatalogueItem(ctx context.Context, in *putItemInput) (*itemVersionOutput, error) {
	a := actorFrom(ctx)
	if err := s.checkAdmin(a); err != nil {
		return nil, err
	}
	if s.cfg.Catalogue == nil {
		return nil, unavailable("the responsibility list cannot be changed here: no catalogue configured")
	}
	it, err := itemFromRequest(in.Code, &in.Body)
	if err != nil {
		return nil, err
	}
	v, created, err := s.cfg.Catalogue.Put(ctx, a.String(), it, in.Body.Reason, in.Body.ExpectedVersion)
	if err != nil {
		return nil, s.itemProblem(ctx, err, "body", "change the item")
	}
	out := &itemVersionOutput{Status: http.StatusOK, Body: itemVersionOf(v)}
	if created {
		out.Status, out.Location = http.StatusCreated, "/v1/catalogue/items/"+v.Item.Code
	}
	return out, nil
}

func (s *Server) retireCatalogueItem(ctx context.Context, in *retireItemInput) (*itemVersionOutput, error) {
	a := actorFrom(ctx)
	if err := s.checkAdmin(a); err != nil {
		return nil, err
	}
	if s.cfg.Catalogue == nil {
		return nil, unavailable("the responsibility list cannot be changed here: no catalogue configured")
	}
	v, err := s.cfg.Catalogue.Retire(ctx, a.String(), in.Code, in.Reason, nil)
	if err != nil {
		return nil, s.itemProblem(ctx, err, "query", "retire the item")
	}
	return &itemVersionOutput{Status: http.StatusOK, Body: itemVersionOf(v)}, nil
}

// itemProblem is fail for the catalogue's errors: an invalid item answers
// 422 naming every offending field of the body.
func (s *Server) itemProblem(ctx context.Context, err error, in, doing string) error {
	var ie *catalogue.InvalidItemError
	if !errors.As(err, &ie) {
		return s.fail(ctx, err, in, doing)
	}
	errs := make([]*huma.ErrorDetail, len(ie.Problems))
	for i, p := range ie.Problems {
		errs[i] = &huma.ErrorDetail{Location: "body." + p.Field, Message: p.Message}
	}
	p := newProblem(http.StatusUnprocessableEntity, "%s", summarize(errs))
	p.Errors = errs
	return p
}

// itemFromRequest turns a PUT body into an item with the path's code:
// durations that do not parse and a body code that differs from the path's
// answer 422 naming the field.
func itemFromRequest(code string, b *CatalogueItemRequest) (jurisdiction.Item, error) {
	var errs []*huma.ErrorDetail
	bad := func(field, format string, args ...any) {
		errs = append(errs, &huma.ErrorDetail{Location: "body." + field, Message: fmt.Sprintf(format, args...)})
	}
	if b.Code != "" && b.Code != code {
		bad("code", "code %q differs from the code %q in the path", b.Code, code)
	}
	duration := func(field, s string) jurisdiction.Duration {
		if s == "" {
			return jurisdiction.Duration{}
		}
		d, err := jurisdiction.ParseDuration(s)
		if err != nil {
			bad(field, "%v", err)
		}
		return d
	}
	it := jurisdiction.Item{
		Code: code, Name: b.Name, Gloss: b.Gloss, Domain: b.Domain, Tier: b.Tier, Lead: b.Lead,
		Cooperating: b.Cooperating, LegalBasis: b.LegalBasis, Attributes: b.Attributes,
		SLA: jurisdiction.SLA{
			Ack:      duration("sla.ack", b.SLA.Ack),
			Resolve:  duration("sla.resolve", b.SLA.Resolve),
			Feedback: duration("sla.feedback", b.SLA.Feedback),
		},
	}
	if e := b.Escalation; e != nil {
		it.Escalation = &jurisdiction.Escalation{WarnAt: e.WarnAt}
		for i, l := range e.Levels {
			it.Escalation.Levels = append(it.Escalation.Levels, duration(fmt.Sprintf("escalation.levels[%d]", i), l))
		}
	}
	if len(errs) > 0 {
		p := newProblem(http.StatusUnprocessableEntity, "%s", summarize(errs))
		p.Errors = errs
		return jurisdiction.Item{}, p
	}
	return it, nil
}

// itemVersionOf is v as the API shows it.
func itemVersionOf(v catalogue.Version) CatalogueItemVersion {
	return CatalogueItemVersion{Code: v.Item.Code, Version: v.Version, Retired: v.Retired, Source: v.Source,
		Actor: v.Actor, Reason: v.Reason, At: v.At.UTC(), Item: catalogueItemOf(v.Item)}
}
