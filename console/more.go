package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/store"
)

// --- map ---

// mapPage shows the open incidents on a map (Leaflet), markers coloured by
// escalation level; without a tile address it draws them on a plain
// background.
func (con *Console) mapPage(w http.ResponseWriter, r *http.Request) {
	con.render(w, r, http.StatusOK, "map", sessionFrom(r.Context()), nil)
}

type mapPoint struct {
	ID       string  `json:"id"`
	Lat      float64 `json:"lat"`
	Lng      float64 `json:"lng"`
	Level    int     `json:"level"`
	Status   string  `json:"status"`
	Item     string  `json:"item"`
	Text     string  `json:"text"`
	Overdue  bool    `json:"overdue"`
	Address  string  `json:"address"`
	Category string  `json:"category"`
}

// mapPoints answers the open incidents with a place, as JSON for the map.
func (con *Console) mapPoints(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var pts []mapPoint
	for _, st := range []incident.Status{incident.StatusTriage, incident.StatusDispatched, incident.StatusCommunity,
		incident.StatusVerifying, incident.StatusSuspended} {
		var page api.IncidentPage
		if err := con.call(r, http.MethodGet, "/v1/incidents?limit=200&status="+string(st), nil, &page); err != nil {
			http.Error(w, words(s.lang, err), statusOf(err))
			return
		}
		for _, in := range page.Items {
			if in.Location.Lat == 0 && in.Location.Lng == 0 {
				continue
			}
			pts = append(pts, mapPoint{ID: in.ID, Lat: in.Location.Lat, Lng: in.Location.Lng, Level: in.EscalationLevel,
				Status: tr(s.lang, statusWords[string(in.Status)]), Item: in.Item.Name, Category: in.Category,
				Text: in.Description, Overdue: in.Overdue, Address: in.Location.Address})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"points": pts})
}

// --- admin: the responsibility list ---

type catalogueView struct {
	Items []api.CatalogueItem
}

// cataloguePage lists the responsibility list in force.
func (con *Console) cataloguePage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var cat struct {
		Items []api.CatalogueItem `json:"items"`
	}
	if err := con.call(r, http.MethodGet, "/v1/catalogue", nil, &cat); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	con.render(w, r, http.StatusOK, "catalogue", s, catalogueView{Items: cat.Items})
}

type itemView struct {
	Code     string
	Versions []api.CatalogueItemVersion
	Latest   string // the latest version's item, indented, for editing
	Version  int
	Retired  bool
}

// catalogueItemPage shows one item's versions side by side (who, when,
// why, what) and, for the admin, the forms to edit and retire it.
func (con *Console) catalogueItemPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	code := r.PathValue("code")
	var hist api.CatalogueHistory
	if err := con.call(r, http.MethodGet, "/v1/catalogue/items/"+url.PathEscape(code)+"/history", nil, &hist); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	v := itemView{Code: code, Versions: hist.Versions}
	if n := len(hist.Versions); n > 0 {
		last := hist.Versions[n-1]
		v.Version, v.Retired = last.Version, last.Retired
		b, _ := json.MarshalIndent(last.Item, "", "  ")
		v.Latest = string(b)
	}
	slices.Reverse(v.Versions) // newest first, beside each other
	con.render(w, r, http.StatusOK, "item", s, v)
}

// editItem sends the edited item (PUT /v1/catalogue/items/{code}) with the
// reason and the version it was edited from, so that two admins editing
// at once do not overwrite each other (409).
func (con *Console) editItem(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	code := r.PathValue("code")
	var body map[string]any
	if err := json.Unmarshal([]byte(r.PostFormValue("item")), &body); err != nil {
		con.flash(w, r, http.StatusUnprocessableEntity, "", tr(s.lang, "事项不是有效的 JSON：")+err.Error())
		return
	}
	delete(body, "code")
	delete(body, "version")
	body["reason"] = strings.TrimSpace(r.PostFormValue("reason"))
	if v, err := strconv.Atoi(r.PostFormValue("version")); err == nil {
		body["expected_version"] = v
	}
	if err := con.call(r, http.MethodPut, "/v1/catalogue/items/"+url.PathEscape(code), body, nil); err != nil {
		con.flash(w, r, statusOf(err), "", words(s.lang, err))
		return
	}
	w.Header().Set("HX-Refresh", "true")
	con.flash(w, r, http.StatusOK, tr(s.lang, "已提交。"), "")
}

// retireItem retires the item with a reason.
func (con *Console) retireItem(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	code := r.PathValue("code")
	q := url.Values{"reason": {strings.TrimSpace(r.PostFormValue("reason"))}}
	if err := con.call(r, http.MethodDelete, "/v1/catalogue/items/"+url.PathEscape(code)+"?"+q.Encode(), nil, nil); err != nil {
		con.flash(w, r, statusOf(err), "", words(s.lang, err))
		return
	}
	w.Header().Set("HX-Refresh", "true")
	con.flash(w, r, http.StatusOK, tr(s.lang, "已提交。"), "")
}

// docs is the API reference, rendered offline by the vendored Swagger UI
// from /openapi.json.
func (con *Console) docs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Whistle API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="stylesheet" href="/static/docs.css"></head>
<body><nav class="docs-nav"><a href="/">Console</a> · <a href="/openapi.json">openapi.json</a> · <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></nav>
<div id="swagger"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script></body></html>`))
}

// open311View is the Open311 clients page: every key and, for the admin,
// the forms to create and revoke them.
type open311View struct {
	Keys    []store.Open311Key
	Streets []string
}

// open311Page lists the Open311 keys (never the keys themselves).
func (con *Console) open311Page(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var keys struct {
		Items []store.Open311Key `json:"items"`
	}
	if err := con.call(r, http.MethodGet, "/v1/open311/keys", nil, &keys); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	v := open311View{Keys: keys.Items}
	for _, st := range con.cfg.Jurisdiction().Streets {
		v.Streets = append(v.Streets, st.Code)
	}
	con.render(w, r, http.StatusOK, "open311", s, v)
}

// createOpen311Key creates a key and shows it, this once, in the flash.
func (con *Console) createOpen311Key(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	body := map[string]any{"client": strings.TrimSpace(r.PostFormValue("client"))}
	if st := r.PostForm["streets"]; len(st) > 0 {
		body["streets"] = st
	}
	var items []string
	for _, it := range strings.FieldsFunc(r.PostFormValue("items"), func(c rune) bool { return c == ',' || c == ' ' || c == '，' }) {
		items = append(items, it)
	}
	if len(items) > 0 {
		body["items"] = items
	}
	for _, f := range []string{"rate_per_minute", "max_body_bytes"} {
		if v := strings.TrimSpace(r.PostFormValue(f)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				con.flash(w, r, http.StatusUnprocessableEntity, "", tr(s.lang, "请填写整数：")+f)
				return
			}
			body[f] = n
		}
	}
	var created struct {
		Key    string `json:"key"`
		Client string `json:"client"`
	}
	if err := con.call(r, http.MethodPost, "/v1/open311/keys", body, &created); err != nil {
		con.flash(w, r, statusOf(err), "", words(s.lang, err))
		return
	}
	con.flash(w, r, http.StatusCreated, tr(s.lang, "新密钥（只显示这一次，请立即保存）：")+created.Client+" "+created.Key, "")
}

// revokeOpen311Key revokes a key at once.
func (con *Console) revokeOpen311Key(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	if err := con.call(r, http.MethodDelete, "/v1/open311/keys/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		con.flash(w, r, statusOf(err), "", words(s.lang, err))
		return
	}
	w.Header().Set("HX-Refresh", "true")
	con.flash(w, r, http.StatusOK, tr(s.lang, "已提交。"), "")
}
