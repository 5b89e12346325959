package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/whatif"
)

// pages are the parsed templates: each page with the layout.
type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"pct": func(f *float64) string {
		if f == nil {
			return "—"
		}
		return fmt.Sprintf("%.1f%%", *f*100)
	},
	"num": func(f *float64) string {
		if f == nil {
			return "—"
		}
		return fmt.Sprintf("%.1f", *f)
	},
	"deref": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"isoPtr": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"add": func(a, b int) int { return a + b },
	"derefTime": func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	},
	"ptr": func(f float64) *float64 { return &f },
	"statuses": func() []string {
		return []string{"community", "triage", "dispatched", "verifying", "awaiting_feedback", "suspended", "closed"}
	},
	"levels":  func() []int { return []int{1, 2, 3} },
	"has":     func(list []string, s string) bool { return slices.Contains(list, s) },
	"dims":    func() []string { return []string{"departments", "streets", "items", "domains"} },
	"dimName": func(d string) string { return leagueDims[d] },
	"name":    func(v *view, dim, key string) string { return nameOf(v.j, dim, key) },
	// flag is the CSS class of a rate against its target: met, missed or
	// none (no rate).
	"flag": func(b *bool) string {
		switch {
		case b == nil:
			return ""
		case *b:
			return "met"
		default:
			return "missed"
		}
	},
	// The replay pages (whatif): a rank, a score, a change of a score, of
	// a rate in points and of a count (empty when none), and whether a
	// change is a drop.
	"rank": func(p *int64) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprint(*p)
	},
	"num3": func(f *float64) string {
		if f == nil {
			return "—"
		}
		return fmt.Sprintf("%.3f", *f)
	},
	"signed": func(f *float64) string {
		if f == nil || math.Abs(*f) < 0.0005 {
			return ""
		}
		return fmt.Sprintf("%+.3f", *f)
	},
	"pp": func(f *float64) string {
		if f == nil || math.Abs(*f) < 0.0005 {
			return ""
		}
		return fmt.Sprintf("%+.1f", *f*100)
	},
	"signedInt": func(p *int64) string {
		if p == nil || *p == 0 {
			return ""
		}
		return fmt.Sprintf("%+d", *p)
	},
	"down":  func(f *float64) bool { return f != nil && *f <= -0.0005 },
	"jobOf": func(v *view, j *api.WhatifJob) jobData { return jobData{V: v, J: j} },
	"rowOf": func(v *view, dim string, r whatif.RowChange) rowData { return rowData{V: v, Dim: dim, R: r} },
	"rateKeys": func() [][2]string {
		return [][2]string{{"response_rate", "响应率"}, {"on_time_resolution_rate", "按时办结率"}, {"satisfaction_rate", "满意率"}}
	},
	// ladder is the data of one clock's ladder on the incident page; live
	// marks the clock still running.
	"ladder": func(v *view, name string, c incident.Clock, live bool) ladderData {
		return ladderData{V: v, Name: name, C: c, Live: live}
	},
}

type ladderData struct {
	V    *view
	Name string
	C    incident.Clock
	Live bool
}

func parsePages() (*pages, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		p.byName[base] = t
	}
	return p, nil
}

// navItem is one link of the navigation bar.
type navItem struct {
	Href, Label string
	Current     bool
}

// view is what every template gets: the session, the page's data and the
// helpers that need the language or the jurisdiction.
type view struct {
	S       *session
	Lang    string
	CSRF    string
	Path    string
	Title   string
	Nav     []navItem
	Data    any
	Flash   string
	Error   string
	TileURL string
	j       *jurisdiction.Jurisdiction
	loc     *time.Location
	now     time.Time
}

// T translates a Chinese text to the view's language.
func (v *view) T(s string) string { return tr(v.Lang, s) }

// Dept, Street and Item name a department, street or item by its code
// ("CG 城管委"); an unknown code is shown as it is.
func (v *view) Dept(code string) string   { return nameOf(v.j, "departments", code) }
func (v *view) Street(code string) string { return nameOf(v.j, "streets", code) }

// Time shows an instant in the district's time zone.
func (v *view) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(v.loc).Format("2006-01-02 15:04")
}

// TimePtr is Time of a time that may be absent.
func (v *view) TimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return v.Time(*t)
}

// Left says how long until t ("剩余 2小时5分" / "2h 5m left"), or how
// long ago it passed ("超时 5分钟" / "overdue by 5m").
func (v *view) Left(t time.Time) string {
	d := t.Sub(v.now)
	switch {
	case d < 0:
		return v.T("超时") + " " + v.span(-d)
	case v.Lang == "en":
		return v.span(d) + " left"
	default:
		return "剩余 " + v.span(d)
	}
}

func (v *view) span(d time.Duration) string {
	d = d.Round(time.Minute)
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	if v.Lang == "en" {
		switch {
		case days > 0:
			return fmt.Sprintf("%dd %dh", days, h)
		case h > 0:
			return fmt.Sprintf("%dh %dm", h, m)
		default:
			return fmt.Sprintf("%dm", m)
		}
	}
	switch {
	case days > 0:
		return fmt.Sprintf("%d天%d小时", days, h)
	case h > 0:
		return fmt.Sprintf("%d小时%d分", h, m)
	default:
		return fmt.Sprintf("%d分钟", m)
	}
}

// Past reports whether t has passed.
func (v *view) Past(t time.Time) bool { return !t.IsZero() && t.Before(v.now) }

// Status names an incident or task status in the view's language.
func (v *view) Status(s string) string { return v.T(statusWords[s]) }

// Role names a role.
func (v *view) Role(r incident.Role) string { return v.T(roleWords[r]) }

// Entry names a timeline entry type.
func (v *view) Entry(t string) string {
	if w, ok := entryWords[t]; ok {
		return v.T(w)
	}
	return t
}

var statusWords = map[string]string{
	"received": "已接收", "community": "社区处置", "triage": "待分拨", "dispatched": "已派单",
	"verifying": "待核查", "awaiting_feedback": "待回访", "suspended": "挂账", "closed": "已办结",
	"rejected": "已驳回", "cancelled": "已撤销",
	"pending_ack": "待报到", "acknowledged": "处置中", "returned": "已退单", "completed": "已完成",
}

var roleWords = map[incident.Role]string{
	incident.RoleGridWorker: "网格员", incident.RoleStreet: "街道", incident.RoleDepartment: "部门",
	incident.RoleDistrict: "区", incident.RoleAdmin: "管理员",
}

var entryWords = map[string]string{
	"reported": "上报", "routed": "分流", "escalated": "上报街道", "whistled": "吹哨", "task_created": "派单",
	"acknowledged": "报到", "completed": "完成", "all_completed": "全部完成", "returned": "退单",
	"reassigned": "改派", "task_cancelled": "撤销任务", "resolved": "办结处置", "verified": "核查通过",
	"verification_failed": "核查未通过", "feedback": "回访", "reopened": "重办", "closed": "办结",
	"ack_warning": "报到预警", "resolve_warning": "办理预警", "ack_overdue": "报到超时升级",
	"resolve_overdue": "办理超时升级", "urged": "催办", "extension_requested": "申请延期",
	"extension_approved": "同意延期", "extension_refused": "不同意延期", "suspended": "挂账", "resumed": "恢复",
	"review_due": "挂账复核到期", "enforcement_called": "执法调度", "routing_override": "改变派单",
	"overruled": "驳回退单", "dispute_referred": "提交区裁定", "rated": "考核评分", "duplicate": "重复上报",
	"repeat": "重复诉求", "duplicate_reported": "收到重复上报", "noted": "备注",
}

// nav returns the navigation of role, with the current page marked.
func nav(role incident.Role, here string) []navItem {
	var items []navItem
	switch role {
	case incident.RoleGridWorker:
		items = []navItem{{Href: "/c/report", Label: "上报"}, {Href: "/c/mine", Label: "我的上报"}}
	case incident.RoleStreet:
		items = []navItem{{Href: "/c/board", Label: "超期看板"}, {Href: "/c/triage", Label: "分拨"},
			{Href: "/c/incidents", Label: "事件"}, {Href: "/c/disputes", Label: "争议与延期"},
			{Href: "/c/map", Label: "地图"}, {Href: "/c/league", Label: "考核"}}
	case incident.RoleDepartment:
		items = []navItem{{Href: "/c/inbox", Label: "待办"}, {Href: "/c/incidents", Label: "事件"}}
	case incident.RoleDistrict:
		items = []navItem{{Href: "/c/league", Label: "考核"}, {Href: "/c/board", Label: "超期看板"},
			{Href: "/c/incidents", Label: "事件"}, {Href: "/c/disputes", Label: "争议与延期"}, {Href: "/c/map", Label: "地图"},
			{Href: "/c/whatif", Label: "规则推演"}}
	default:
		items = []navItem{{Href: "/c/catalogue", Label: "责任清单"}, {Href: "/c/open311", Label: "Open311 接入"}, {Href: "/c/league", Label: "考核"},
			{Href: "/c/board", Label: "超期看板"}, {Href: "/c/incidents", Label: "事件"}, {Href: "/c/map", Label: "地图"},
			{Href: "/c/whatif", Label: "规则推演"}}
	}
	for i := range items {
		items[i].Current = strings.HasPrefix(here, items[i].Href)
	}
	return items
}

// newView returns the view of r for page data.
func (con *Console) newView(r *http.Request, s *session, title string, data any) *view {
	j := con.cfg.Jurisdiction()
	v := &view{S: s, Lang: s.lang, CSRF: s.csrf, Path: r.URL.Path, Data: data, TileURL: con.cfg.TileURL,
		j: j, loc: j.Location(), now: con.now()}
	v.Title = v.T(title)
	if s.token != "" {
		v.Nav = nav(s.actor.Role, r.URL.Path)
		for i := range v.Nav {
			v.Nav[i].Label = v.T(v.Nav[i].Label)
		}
	}
	return v
}

// render executes page (or one of its fragments, "page#fragment") and sends
// it with status.
func (con *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, s *session, data any) {
	con.renderView(w, status, page, con.newView(r, s, titles[page], data))
}

func (con *Console) renderView(w http.ResponseWriter, status int, page string, v *view) {
	name, frag, _ := strings.Cut(page, "#")
	t := con.pages.byName[name]
	if t == nil {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	if frag == "" {
		frag = "layout"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, frag, v); err != nil {
		con.log.Error("render", "page", page, "err", err)
		http.Error(w, "render "+page+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// titles are the pages' titles (Chinese; translated by the view).
var titles = map[string]string{
	"login": "登录", "report": "上报问题", "mine": "我的上报", "board": "超期看板", "triage": "分拨",
	"incidents": "事件", "incident": "事件详情", "inbox": "待办", "disputes": "争议与延期", "map": "地图",
	"league": "考核", "catalogue": "责任清单", "open311": "Open311 接入", "item": "清单事项", "error": "出错了",
	"whatif": "规则推演", "whatif_job": "规则推演",
}

type errorView struct {
	Status  int
	Message string
}

// fail shows an error page (or, to htmx, a fragment in the flash area).
func (con *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if r.Header.Get("HX-Request") != "" {
		con.flash(w, r, status, "", msg)
		return
	}
	con.render(w, r, status, "error", sessionOr(r), errorView{Status: status, Message: msg})
}

// flash answers an htmx action with a message for the flash area (ok or
// error), swapped in by hx-target="#flash" (an error keeps its status so
// htmx's response handling lets the page stay as it was).
func (con *Console) flash(w http.ResponseWriter, r *http.Request, status int, ok, bad string) {
	v := con.newView(r, sessionOr(r), "", nil)
	v.Flash, v.Error = ok, bad
	con.renderView(w, status, "error#flash", v)
}

func (con *Console) notFound(w http.ResponseWriter, r *http.Request) {
	con.fail(w, r, http.StatusNotFound, tr(langOf(r), "没有这个页面。"))
}
