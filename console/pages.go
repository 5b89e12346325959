package console

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
)

// --- grid worker ---

type domainGroup struct {
	Domain string
	Items  []jurisdiction.Item
}

type reportView struct {
	Grid    string
	Street  string
	Domains []domainGroup
}

// reportPage is the grid worker's report form: a category picker grouped
// by domain and searchable, the description, the place and photo links.
// Its script keeps a draft across reloads and retries a failed send with
// the same Idempotency-Key.
func (con *Console) reportPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	j := con.cfg.Jurisdiction()
	street, _, _ := j.LocateGrid(s.actor.Org)
	byDomain := map[string][]jurisdiction.Item{}
	var order []string
	for _, it := range j.Items {
		d := cmp.Or(it.Domain, "其他")
		if _, ok := byDomain[d]; !ok {
			order = append(order, d)
		}
		byDomain[d] = append(byDomain[d], it)
	}
	v := reportView{Grid: s.actor.Org, Street: street}
	for _, d := range order {
		v.Domains = append(v.Domains, domainGroup{Domain: d, Items: byDomain[d]})
	}
	con.render(w, r, http.StatusOK, "report", s, v)
}

// reportForm is what the report page's script sends (JSON).
type reportForm struct {
	Category    string   `json:"category"`
	Description string   `json:"description"`
	Lat         string   `json:"lat"`
	Lng         string   `json:"lng"`
	Address     string   `json:"address"`
	Photos      []string `json:"photos"`
	// Attributes are the answers to the chosen item's attributes.
	Attributes map[string][]string `json:"attributes"`
}

// sendReport sends the report to POST /v1/reports with the page's
// Idempotency-Key, so that a resend after a lost answer finds the first
// incident; it answers JSON {id} or {error} in words.
func (con *Console) sendReport(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	var f reportForm
	if err := json.NewDecoder(io.LimitReader(r.Body, api.MaxReportBytes)).Decode(&f); err != nil {
		answer(http.StatusBadRequest, map[string]string{"error": tr(s.lang, "输入有误，请修改后重试。")})
		return
	}
	body := map[string]any{"category": f.Category, "grid": s.actor.Org, "description": f.Description}
	loc := map[string]any{"address": strings.TrimSpace(f.Address)}
	if f.Lat != "" || f.Lng != "" {
		lat, err1 := strconv.ParseFloat(strings.TrimSpace(f.Lat), 64)
		lng, err2 := strconv.ParseFloat(strings.TrimSpace(f.Lng), 64)
		if err1 != nil || err2 != nil {
			answer(http.StatusUnprocessableEntity, map[string]string{"error": tr(s.lang, "经纬度应为数字。")})
			return
		}
		loc["lat"], loc["lng"] = lat, lng
	}
	body["location"] = loc
	var photos []string
	for _, p := range f.Photos {
		if p = strings.TrimSpace(p); p != "" {
			photos = append(photos, p)
		}
	}
	if len(photos) > 0 {
		body["photos"] = photos
	}
	if len(f.Attributes) > 0 {
		body["attributes"] = f.Attributes
	}
	var out struct {
		IncidentID string `json:"incident_id"`
	}
	key := r.Header.Get("Idempotency-Key")
	if err := con.call(r, http.MethodPost, "/v1/reports", body, &out, "Idempotency-Key", key); err != nil {
		status := http.StatusBadGateway
		if e, ok := err.(*apiError); ok {
			status = e.Status
		}
		answer(status, map[string]string{"error": words(s.lang, err)})
		return
	}
	answer(http.StatusAccepted, map[string]string{"id": out.IncidentID,
		"message": tr(s.lang, "已上报，编号 ") + out.IncidentID})
}

type listView struct {
	Items  []*incident.Incident
	Status string
	Next   string
	Query  string
}

// minePage lists the grid's incidents, newest first.
func (con *Console) minePage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var page api.IncidentPage
	q := url.Values{"grid": {s.actor.Org}, "limit": {"50"}}
	if st := r.URL.Query().Get("status"); st != "" {
		q.Set("status", st)
	}
	if err := con.call(r, http.MethodGet, "/v1/incidents?"+q.Encode(), nil, &page); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	con.render(w, r, http.StatusOK, "mine", s, listView{Items: page.Items, Status: q.Get("status")})
}

// incidentsPage lists the incidents the person may read, filtered by status.
func (con *Console) incidentsPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	q := url.Values{"limit": {"50"}}
	for _, k := range []string{"status", "cursor", "overdue"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	var page api.IncidentPage
	if err := con.call(r, http.MethodGet, "/v1/incidents?"+q.Encode(), nil, &page); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	con.render(w, r, http.StatusOK, "incidents", s, listView{Items: page.Items, Status: q.Get("status"), Next: page.NextCursor})
}

func statusOf(err error) int {
	if e, ok := err.(*apiError); ok {
		return e.Status
	}
	return http.StatusBadGateway
}

// --- street ---

type boardView struct {
	Items      []api.OverdueItem
	Department string
	Kind       string
	MinLevel   string
	Street     string
	Query      string
	Depts      []jurisdiction.Department
	Streets    []jurisdiction.Street
	Live       bool
}

// board reads the overdue board with the page's filters (kept in the URL).
func (con *Console) board(r *http.Request) (boardView, error) {
	in := r.URL.Query()
	v := boardView{Department: in.Get("department"), Kind: in.Get("kind"), MinLevel: in.Get("min_level"),
		Street: in.Get("street"), Live: con.cfg.Conn != nil}
	q := url.Values{"limit": {"200"}}
	for k, val := range map[string]string{"department": v.Department, "kind": v.Kind, "min_level": v.MinLevel, "street": v.Street} {
		if val != "" {
			q.Set(k, val)
		}
	}
	v.Query = q.Encode()
	j := con.cfg.Jurisdiction()
	v.Depts, v.Streets = j.Departments, j.Streets
	var page api.OverduePage
	if err := con.call(r, http.MethodGet, "/v1/supervision/overdue?"+q.Encode(), nil, &page); err != nil {
		return v, err
	}
	v.Items = page.Items
	return v, nil
}

// boardPage is the overdue board: a wall screen that reloads its rows when
// an escalation or a task event of its street arrives (server-sent events).
func (con *Console) boardPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	v, err := con.board(r)
	if err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	con.render(w, r, http.StatusOK, "board", s, v)
}

// boardRows is the board's rows alone, for the live reload.
func (con *Console) boardRows(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	v, err := con.board(r)
	if err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	con.render(w, r, http.StatusOK, "board#rows", s, v)
}

type triageRow struct {
	*incident.Incident
	Default []string // the item's lead and cooperating departments
}

type triageView struct {
	Items []triageRow
	Depts []jurisdiction.Department
}

// triagePage is the street's queue of street-tier incidents, each with a
// department picker to whistle.
func (con *Console) triagePage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var page api.IncidentPage
	if err := con.call(r, http.MethodGet, "/v1/incidents?status=triage&limit=100", nil, &page); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	v := triageView{Depts: con.cfg.Jurisdiction().Departments}
	for _, in := range page.Items {
		row := triageRow{Incident: in}
		if in.Item.Lead != "" {
			row.Default = append([]string{in.Item.Lead}, in.Item.Cooperating...)
		}
		v.Items = append(v.Items, row)
	}
	con.render(w, r, http.StatusOK, "triage", s, v)
}

type disputesView struct {
	Disputes []api.DisputeItem
	Pending  []api.ExtensionItem
	Depts    []jurisdiction.Department
}

// disputesPage lists the returns to arbitrate and the extension requests
// awaiting a decision.
func (con *Console) disputesPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var d api.DisputePage
	if err := con.call(r, http.MethodGet, "/v1/supervision/disputes?limit=100", nil, &d); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	var e api.ExtensionPage
	if err := con.call(r, http.MethodGet, "/v1/supervision/extensions?limit=100", nil, &e); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	v := disputesView{Disputes: d.Items, Pending: e.Items, Depts: con.cfg.Jurisdiction().Departments}
	con.render(w, r, http.StatusOK, "disputes", s, v)
}

// --- incident ---

type incidentView struct {
	In      *api.IncidentView
	Actions []actionForm
	Depts   []jurisdiction.Department
}

// incidentPage shows one incident: what, where, its tasks and their
// ladders, its timeline and the actions the person may take now.
func (con *Console) incidentPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var in api.IncidentView
	if err := con.call(r, http.MethodGet, "/v1/incidents/"+url.PathEscape(r.PathValue("id")), nil, &in); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	v := incidentView{In: &in, Actions: con.actionsFor(s, in.Incident), Depts: con.cfg.Jurisdiction().Departments}
	con.render(w, r, http.StatusOK, "incident", s, v)
}

// --- department ---

type inboxTab struct {
	Key, Label string
	Count      int
	More       bool
	Current    bool
}

type inboxView struct {
	Tab   string
	Tabs  []inboxTab
	Items []api.TaskRow
}

// inboxTabDef is one of the clerk's tabs: the API's status filter, or
// (overdue) the open tasks past a deadline.
type inboxTabDef struct {
	key, label, status string
	overdue            bool
}

var inboxTabs = []inboxTabDef{
	{"ack", "待报到", "pending_ack", false},
	{"doing", "处置中", "acknowledged", false},
	{"overdue", "已超时", "", true},
	{"returned", "已退单", "returned", false},
}

// inbox reads the department's inbox for the tab of r, with the count of
// every tab.
func (con *Console) inbox(r *http.Request) (inboxView, error) {
	s := sessionFrom(r.Context())
	tab := r.URL.Query().Get("tab")
	if !slices.ContainsFunc(inboxTabs, func(t inboxTabDef) bool { return t.key == tab }) {
		tab = "ack"
	}
	v := inboxView{Tab: tab}
	base := "/v1/departments/" + url.PathEscape(s.actor.Org) + "/tasks?limit=200"
	var open []api.TaskRow // pending_ack and acknowledged, for the overdue tab
	for _, t := range inboxTabs {
		var rows []api.TaskRow
		more := false
		if t.overdue {
			for _, row := range open {
				if row.Overdue {
					rows = append(rows, row)
				}
			}
		} else {
			var page api.TaskPage
			if err := con.call(r, http.MethodGet, base+"&status="+t.status, nil, &page); err != nil {
				return v, err
			}
			rows, more = page.Items, page.NextCursor != ""
			if t.status != "returned" {
				open = append(open, rows...)
			}
		}
		v.Tabs = append(v.Tabs, inboxTab{Key: t.key, Label: t.label, Count: len(rows), More: more, Current: t.key == tab})
		if t.key == tab {
			v.Items = rows
		}
	}
	return v, nil
}

// inboxPage is the department clerk's inbox: tabs with counts, the time
// left on each task and bulk 报到.
func (con *Console) inboxPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	v, err := con.inbox(r)
	if err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	con.render(w, r, http.StatusOK, "inbox", s, v)
}

func (con *Console) inboxRows(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	v, err := con.inbox(r)
	if err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	con.render(w, r, http.StatusOK, "inbox#body", s, v)
}

// bulkAck acknowledges (报到) every selected task, one command each, and
// says which went through and which did not (and why).
func (con *Console) bulkAck(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		con.flash(w, r, http.StatusBadRequest, "", err.Error())
		return
	}
	ids := r.PostForm["task"]
	if len(ids) == 0 {
		con.flash(w, r, http.StatusUnprocessableEntity, "", tr(s.lang, "请先勾选要报到的任务。"))
		return
	}
	var failed []string
	ok := 0
	for _, id := range ids {
		if err := con.call(r, http.MethodPost, "/v1/tasks/"+url.PathEscape(id)+"/ack", map[string]any{}, nil); err != nil {
			failed = append(failed, id+": "+words(s.lang, err))
			continue
		}
		ok++
	}
	msg := strings.ReplaceAll(tr(s.lang, "已报到 N 件。"), "N", strconv.Itoa(ok))
	w.Header().Set("HX-Trigger", "inbox-changed")
	if len(failed) > 0 {
		con.flash(w, r, http.StatusOK, msg, strings.Join(failed, "\n"))
		return
	}
	con.flash(w, r, http.StatusOK, msg, "")
}

// --- district ---

type leagueRow struct {
	Key        string `json:"key"`
	Department string `json:"department"`
	Street     string `json:"street"`
	api.LeagueRow
}

type leagueReport struct {
	Target            float64     `json:"target"`
	MinCases          int         `json:"min_cases"`
	DefinitionVersion string      `json:"definition_version"`
	Items             []leagueRow `json:"items"`
}

type leagueView struct {
	Month  string
	Months []string
	Dim    string
	// Channel narrows the tables to one channel's incidents ("" all);
	// Channels are the choices.
	Channel  string
	Channels []string
	Report   leagueReport
	Topics   monthlyTopics
	TopicsE  string
}

// channelQuery is the query parameter narrowing the API's tables to the
// view's channel, or "".
func (v leagueView) channelQuery() string {
	if v.Channel == "" {
		return ""
	}
	return "&channel=" + url.QueryEscape(v.Channel)
}

// monthlyTopics are the monthly report's lists a district picks its
// 每月一题 from.
type monthlyTopics struct {
	MostCases          []metrics.ItemFigure       `json:"most_cases"`
	MostRepeats        []metrics.ItemFigure       `json:"most_repeats"`
	LowestSatisfaction []metrics.ItemSatisfaction `json:"lowest_satisfaction"`
}

var leagueDims = map[string]string{"departments": "部门", "streets": "街道", "items": "事项", "domains": "领域"}

// leaguePage is the month's league table of one dimension, with the 95%
// line, ranks, the trend over twelve months and the monthly topic
// candidates (每月一题).
func (con *Console) leaguePage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	v := con.leagueParams(r)
	if err := con.call(r, http.MethodGet, "/v1/metrics/"+v.Dim+"?period=month&date="+v.Month+"-01"+v.channelQuery(), nil, &v.Report); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	slices.SortStableFunc(v.Report.Items, func(a, b leagueRow) int {
		ra, rb := a.Rank, b.Rank
		switch {
		case ra == nil && rb == nil:
			return 0
		case ra == nil:
			return 1
		case rb == nil:
			return -1
		}
		return *ra - *rb
	})
	if s.actor.Role != incident.RoleStreet {
		if err := con.call(r, http.MethodGet, "/v1/reports/monthly?month="+v.Month+v.channelQuery(), nil, &v.Topics); err != nil {
			v.TopicsE = words(s.lang, err)
		}
	}
	con.render(w, r, http.StatusOK, "league", s, v)
}

func (con *Console) leagueParams(r *http.Request) leagueView {
	loc := con.cfg.Jurisdiction().Location()
	now := con.now().In(loc)
	v := leagueView{Month: r.URL.Query().Get("month"), Dim: r.URL.Query().Get("dim")}
	if _, err := time.Parse("2006-01", v.Month); err != nil {
		v.Month = now.Format("2006-01")
	}
	if _, ok := leagueDims[v.Dim]; !ok {
		v.Dim = "departments"
	}
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	for i := range 12 {
		v.Months = append(v.Months, first.AddDate(0, -i, 0).Format("2006-01"))
	}
	v.Channels = []string{incident.ChannelGrid, incident.ChannelHotline, incident.ChannelAPI, incident.ChannelDelegation}
	var keys struct {
		Items []struct {
			Client string `json:"client"`
		} `json:"items"`
	}
	// The Open311 clients, for those who may read the keys.
	if s := sessionFrom(r.Context()); s != nil && (s.actor.Role == incident.RoleDistrict || s.actor.Role == incident.RoleAdmin) &&
		con.call(r, http.MethodGet, "/v1/open311/keys", nil, &keys) == nil {
		for _, k := range keys.Items {
			if c := incident.ChannelOpen311Prefix + k.Client; !slices.Contains(v.Channels, c) {
				v.Channels = append(v.Channels, c)
			}
		}
	}
	if c := r.URL.Query().Get("channel"); slices.Contains(v.Channels, c) || incident.ValidChannel(c) {
		v.Channel = c
	}
	return v
}

// trendPoint is one month of one row in the trend chart's data.
type trendSeries struct {
	Key    string     `json:"key"`
	Name   string     `json:"name"`
	Values []*float64 `json:"values"`
}

// leagueTrend answers the chart's data as JSON: for the last twelve
// months, each row's score (departments) or satisfaction rate (others).
func (con *Console) leagueTrend(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	v := con.leagueParams(r)
	months := slices.Clone(v.Months)
	slices.Reverse(months)
	j := con.cfg.Jurisdiction()
	series := map[string]*trendSeries{}
	var keys []string
	for i, m := range months {
		var rep leagueReport
		if err := con.call(r, http.MethodGet, "/v1/metrics/"+v.Dim+"?period=month&date="+m+"-01"+v.channelQuery(), nil, &rep); err != nil {
			http.Error(w, words(s.lang, err), statusOf(err))
			return
		}
		for _, row := range rep.Items {
			key := cmp.Or(row.Department, row.Street, row.Key)
			ts := series[key]
			if ts == nil {
				ts = &trendSeries{Key: key, Name: nameOf(j, v.Dim, key), Values: make([]*float64, len(months))}
				series[key] = ts
				keys = append(keys, key)
			}
			if v.Dim == "departments" {
				ts.Values[i] = row.Score
			} else {
				ts.Values[i] = row.SatisfactionRate
			}
		}
	}
	slices.Sort(keys)
	out := struct {
		Months []string       `json:"months"`
		Metric string         `json:"metric"`
		Series []*trendSeries `json:"series"`
	}{Months: months, Metric: tr(s.lang, map[bool]string{true: "综合得分", false: "满意率"}[v.Dim == "departments"])}
	for _, k := range keys {
		out.Series = append(out.Series, series[k])
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func nameOf(j *jurisdiction.Jurisdiction, dim, key string) string {
	switch dim {
	case "departments":
		if d, ok := j.Department(key); ok {
			return d.Name
		}
	case "streets":
		if s, ok := j.Street(key); ok {
			return s.Name
		}
	case "items":
		if it, ok := j.Item(key); ok {
			return it.Name
		}
	}
	return key
}

// monthlyCSV downloads the monthly report as the API's CSV.
func (con *Console) monthlyCSV(w http.ResponseWriter, r *http.Request) {
	v := con.leagueParams(r)
	res := con.raw(r, "/v1/reports/monthly?month="+v.Month+v.channelQuery(), "text/csv")
	for _, h := range []string{"Content-Type", "Content-Disposition"} {
		if x := res.Header.Get(h); x != "" {
			w.Header().Set(h, x)
		}
	}
	if w.Header().Get("Content-Disposition") == "" && res.StatusCode == http.StatusOK {
		w.Header().Set("Content-Disposition", `attachment; filename="whistle-`+v.Month+`.csv"`)
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}
