package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

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

// CatalogueItem is one item of the responsibility list (属地管理事项).
type CatalogueItem struct {
	Code        string        `json:"code" example:"SR-001"`
	Name        string        `json:"name" example:"占道经营"`
	Gloss       string        `json:"gloss" example:"street vending that blocks the road"`
	Domain      string        `json:"domain" example:"市容环境"`
	Tier        incident.Tier `json:"tier" enum:"community,street,department"`
	Lead        string        `json:"lead" doc:"Department with primary responsibility (主体责任)."`
	Cooperating []string      `json:"cooperating" doc:"Departments with cooperating responsibility (配合责任)."`
	LegalBasis  string        `json:"legal_basis"`
	SLA         CatalogueSLA  `json:"sla"`
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
		coop := it.Cooperating
		if coop == nil {
			coop = []string{}
		}
		c.Items[i] = CatalogueItem{
			Code: it.Code, Name: it.Name, Gloss: it.Gloss, Domain: it.Domain, Tier: it.Tier, Lead: it.Lead,
			Cooperating: coop, LegalBasis: it.LegalBasis,
			SLA: CatalogueSLA{Ack: it.SLA.Ack.String(), Resolve: it.SLA.Resolve.String(), Feedback: it.SLA.Feedback.String()},
		}
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
