package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/whistle-city/whistle/incident"
)

// catalogue is the part of GET /v1/catalogue a bench needs: the
// responsibility list, the departments and where every grid lies.
type catalogue struct {
	Items       []catalogueItem `json:"items"`
	Departments []struct {
		Code string `json:"code"`
	} `json:"departments"`
	Streets []struct {
		Code        string `json:"code"`
		Communities []struct {
			Code  string     `json:"code"`
			Grids []gridCode `json:"grids"`
		} `json:"communities"`
	} `json:"streets"`
}

// catalogueItem is one item of the responsibility list.
type catalogueItem struct {
	Code        string        `json:"code"`
	Name        string        `json:"name"`
	Tier        incident.Tier `json:"tier"`
	Lead        string        `json:"lead"`
	Cooperating []string      `json:"cooperating"`
}

// gridCode decodes a grid given as its code ("FH-01-01") or as an object
// with a code field, so the bench does not break if grids gain fields.
type gridCode string

// UnmarshalJSON accepts a string or {"code": …}.
func (g *gridCode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*g = gridCode(s)
		return nil
	}
	var o struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("grid is neither a code nor an object with a code: %s", b)
	}
	*g = gridCode(o.Code)
	return nil
}

// grid is where a simulated grid worker reports from.
type grid struct {
	code   string
	street string
}

// plan is what the bench reports: categories and grids, each used round-robin.
type plan struct {
	categories []string
	grids      []grid
}

// fetchCatalogue reads GET /v1/catalogue.
func fetchCatalogue(ctx context.Context, c *client, token string) (*catalogue, error) {
	var cat catalogue
	if err := c.do(ctx, request{step: stepCatalogue, method: http.MethodGet, path: "/v1/catalogue", token: token}, &cat); err != nil {
		return nil, fmt.Errorf("%w: read the catalogue: %w", ErrSetup, err)
	}
	return &cat, nil
}

// newPlan picks the categories (want, or every department-tier item) and
// every grid of the catalogue.
func newPlan(cat *catalogue, want []string) (plan, error) {
	var p plan
	tiers := make(map[string]incident.Tier, len(cat.Items))
	for _, it := range cat.Items {
		tiers[it.Code] = it.Tier
		if len(want) == 0 && it.Tier == incident.TierDepartment {
			p.categories = append(p.categories, it.Code)
		}
	}
	for _, code := range want {
		tier, ok := tiers[code]
		switch {
		case !ok:
			return p, fmt.Errorf("%w: category %q is not an item of the catalogue", ErrSetup, code)
		case tier != incident.TierDepartment:
			return p, fmt.Errorf("%w: category %q is a %s-tier item; the bench drives department-tier items only", ErrSetup, code, tier)
		}
		if !slices.Contains(p.categories, code) {
			p.categories = append(p.categories, code)
		}
	}
	if len(p.categories) == 0 {
		return p, fmt.Errorf("%w: the catalogue has no department-tier item", ErrSetup)
	}
	for _, s := range cat.Streets {
		for _, cm := range s.Communities {
			for _, g := range cm.Grids {
				if g != "" {
					p.grids = append(p.grids, grid{code: string(g), street: s.Code})
				}
			}
		}
	}
	if len(p.grids) == 0 {
		return p, fmt.Errorf("%w: the catalogue has no grid", ErrSetup)
	}
	return p, nil
}
