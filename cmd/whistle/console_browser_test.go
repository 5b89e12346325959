package main

// The console in a real browser: headless Chromium (Debian's chromium,
// which .ci/run installs) driven by chromedp against the real binary on
// embedded Temporal, NATS and PostgreSQL. Screenshots of every page are
// kept in $WHISTLE_SCREENSHOTS (default: a temporary directory, logged).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/whistle-city/whistle/devstack/wait"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// axeViolation is one serious accessibility violation axe-core found.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeChecker returns axe-core's script (vendored from npm for the tests).
func axeChecker(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "console", "testdata", "vendor", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core: %v (console/vendor.sh vendors it)", err)
	}
	return string(b)
}

// chromium returns the browser to drive, or skips the test when there is
// none (CI sets WHISTLE_REQUIRE_BROWSER=1, which fails instead).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("WHISTLE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("WHISTLE_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium: apt-get install -y chromium (or set WHISTLE_CHROMIUM)")
	}
	t.Skip("no Chromium installed (apt-get install -y chromium); set WHISTLE_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// browserJurisdiction is the shipped district with JS-002's acknowledgement
// deadline at 20 seconds, so that a task runs late within the test (JS-002
// is outside the enforcement domains, whose tasks take the enforcement
// deadline instead).
func browserJurisdiction(t *testing.T) string {
	t.Helper()
	y := string(jurisdiction.DefaultYAML())
	old := "sla: {ack: 1h, resolve: 5wd, feedback: 3wd}"
	i := strings.Index(y, "code: JS-002")
	j := strings.Index(y[i:], old)
	if i < 0 || j < 0 {
		t.Fatal("the shipped district changed: JS-002's SLA not found")
	}
	y = y[:i+j] + "sla: {ack: 20s, resolve: 5wd, feedback: 3wd}" + y[i+j+len(old):]
	path := filepath.Join(t.TempDir(), "district.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the whistle binary and a browser")
	}
	browser := chromium(t)
	whistleBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env := append(childEnv(), "DATABASE_URL="+database(t))
	addr := freeAddr(t)
	a := newAPI(addr)
	dev := startProc(t, "whistle dev", env, "dev", "--http", addr, "--data-dir", dataDir, "--temporal-port", "127.0.0.1:0",
		"--jurisdiction", browserJurisdiction(t))
	dev.waitStdout(t, "Whistle is running", startTimeout)
	a.waitReady(t, dev, startTimeout)
	if !strings.Contains(dev.stdout.String(), a.base+"/login") {
		t.Fatalf("whistle dev does not print the sign-in address %s/login:\n%s", a.base, dev.stdout.String())
	}
	token := func(role, org string) string {
		r := run(t, env, time.Minute, "token", "--role", role, "--org", org, "--data-dir", dataDir)
		if r.code != 0 {
			t.Fatalf("whistle token: %d %s", r.code, r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	grid, street, cg, scjg, district := token("grid_worker", "FH-01-01"), token("street", "FH"),
		token("department", "CG"), token("department", "SCJG"), token("district", "DA")
	zj, admin := token("department", "ZJ"), token("admin", "DA")

	shots := os.Getenv("WHISTLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 5*time.Minute)
	defer cancelT()

	do := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			var loc, body string
			_ = chromedp.Run(ctx, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
			t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, tail(body, 30))
		}
	}
	size := func(w, h int64, mobile bool) chromedp.Action {
		return chromedp.EmulateViewport(w, h, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
			p.Mobile = mobile
		})
	}
	shot := func(name string) {
		t.Helper()
		var png []byte
		do("screenshot "+name, chromedp.FullScreenshot(&png, 100))
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(tok string) {
		t.Helper()
		do("sign in", network.ClearBrowserCookies(), chromedp.Navigate(a.base+"/"), chromedp.WaitVisible(`textarea[name="token"]`, chromedp.ByQuery),
			chromedp.SetValue(`textarea[name="token"]`, tok, chromedp.ByQuery),
			chromedp.Click(`form[action="/login"] button[type="submit"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`form[action="/logout"]`, chromedp.ByQuery))
	}
	// waitText waits until sel's text contains s, asking the page again
	// and again (it may be navigating meanwhile).
	waitText := func(what, sel, s string, d time.Duration) {
		t.Helper()
		js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, s)
		ok := wait.Within(d, func() bool {
			var found bool
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return chromedp.Run(c, chromedp.Evaluate(js, &found)) == nil && found
		})
		if !ok {
			var body string
			_ = chromedp.Run(ctx, chromedp.Text("body", &body, chromedp.ByQuery))
			t.Fatalf("%s: %q never showed %q within %s\n%s", what, sel, s, d, tail(body, 30))
		}
	}
	// submit clicks a command form's button and waits for the page to
	// reload, as the console does after a command went through (HX-Refresh);
	// a refusal would leave the page, and so fail here with its message.
	submit := func(what, form string) {
		t.Helper()
		do(what, chromedp.Evaluate(`window.__beforeSubmit = true`, nil), chromedp.Click(form+` button[type="submit"]`, chromedp.ByQuery))
		ok := wait.Within(30*time.Second, func() bool {
			var reloaded bool
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return chromedp.Run(c, chromedp.Evaluate(`window.__beforeSubmit === undefined && document.readyState === "complete"`, &reloaded)) == nil && reloaded
		})
		if !ok {
			var flash string
			_ = chromedp.Run(ctx, chromedp.Text("#flash", &flash, chromedp.ByQuery))
			t.Fatalf("%s: the page did not reload after the command; it says %q", what, flash)
		}
	}
	axe := axeChecker(t)
	accessible := func(page string) {
		t.Helper()
		var res []axeViolation
		do("axe "+page, chromedp.Evaluate(axe, nil), chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)})))`,
			&res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		if len(res) > 0 {
			b, _ := json.MarshalIndent(res, "", "  ")
			t.Errorf("%s: axe-core finds serious violations:\n%s", page, b)
		}
	}

	// The sign-in form: a bad token is refused in words.
	do("login page", size(390, 844, true), chromedp.Navigate(a.base+"/"), chromedp.WaitVisible(`textarea[name="token"]`, chromedp.ByQuery))
	accessible("login")
	shot("login-390.png")
	do("bad token", chromedp.SetValue(`textarea[name="token"]`, "nonsense", chromedp.ByQuery),
		chromedp.Click(`form[action="/login"] button[type="submit"]`, chromedp.ByQuery))
	waitText("bad token", "main", "令牌无效", 10*time.Second)

	// 1. The grid worker reports from a phone: the draft survives a reload.
	signIn(grid)
	do("report form", chromedp.WaitVisible(`#report`, chromedp.ByQuery),
		chromedp.SendKeys(`#description`, "楼道里堆满纸箱，垃圾三天没人清运", chromedp.ByQuery),
		chromedp.Reload(), chromedp.WaitVisible(`#report`, chromedp.ByQuery))
	var restored string
	do("draft", chromedp.Value(`#description`, &restored, chromedp.ByQuery))
	if !strings.Contains(restored, "纸箱") {
		t.Fatalf("the draft did not survive a reload: description %q", restored)
	}
	do("fill report", chromedp.SendKeys(`#cat-search`, "SR-004", chromedp.ByQuery),
		chromedp.SetValue(`#category`, "SR-004", chromedp.ByQuery),
		chromedp.SetValue(`#lat`, "29.3512", chromedp.ByQuery), chromedp.SetValue(`#lng`, "104.7705", chromedp.ByQuery),
		chromedp.SendKeys(`#address`, "凤凰路 12 号", chromedp.ByQuery))
	accessible("report")
	shot("report-390.png")
	var weight float64
	do("page weight", chromedp.Evaluate(`performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((s, e) => s + (e.encodedBodySize || 0), 0)`, &weight))
	t.Logf("grid worker's page: %.1f KB transferred (bodies as sent, compressed where the server compresses)", weight/1024)
	if weight > 150*1024 {
		t.Errorf("the grid worker's page weighs %.0f KB, want under 150 KB", weight/1024)
	}
	do("send report", chromedp.Click(`#send`, chromedp.ByQuery))
	waitText("report sent", "#report-status", "已上报", 30*time.Second)
	var status string
	do("report id", chromedp.Text(`#report-status`, &status, chromedp.ByQuery))
	id := strings.TrimSpace(status[strings.LastIndex(status, " ")+1:])
	if _, err := a.waitIncident(ctx, id, street, "in triage", func(in *incident.Incident) bool { return in.Status == "triage" }); err != nil {
		t.Fatal(err)
	}
	do("mine", chromedp.Navigate(a.base+"/c/mine"), chromedp.WaitVisible(`main table`, chromedp.ByQuery))
	waitText("my reports", "main table", "纸箱", 10*time.Second)
	shot("mine-390.png")

	// An item with attributes (JS-002: how large, whether traffic gets
	// through) asks them once chosen, and the answers reach the incident.
	do("report with attributes", chromedp.Navigate(a.base+"/c/report"), chromedp.WaitVisible(`#report`, chromedp.ByQuery),
		chromedp.SetValue(`#category`, "JS-002", chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById("category").dispatchEvent(new Event("change", {bubbles: true}))`, nil),
		chromedp.WaitVisible(`fieldset.attrs[data-item="JS-002"]`, chromedp.ByQuery),
		chromedp.SetValue(`#attr-JS-002-size`, "medium", chromedp.ByQuery),
		chromedp.SendKeys(`#description`, "人行道砖块松动一片", chromedp.ByQuery),
		chromedp.SetValue(`#lat`, "29.3905", chromedp.ByQuery), chromedp.SetValue(`#lng`, "104.7301", chromedp.ByQuery))
	accessible("report with attributes")
	shot("report-attributes-390.png")
	do("send report with attributes", chromedp.Click(`#send`, chromedp.ByQuery))
	waitText("report with attributes sent", "#report-status", "已上报", 30*time.Second)
	do("report id", chromedp.Text(`#report-status`, &status, chromedp.ByQuery))
	withAttrs, err := a.incident(ctx, strings.TrimSpace(status[strings.LastIndex(status, " ")+1:]), street)
	if err != nil {
		t.Fatal(err)
	}
	if got := withAttrs.Attributes["size"]; len(got) != 1 || got[0] != "medium" || len(withAttrs.Attributes) != 1 {
		t.Errorf("the report's answers: %v, want size medium alone", withAttrs.Attributes)
	}

	// A community-tier case (小事不出社区) the grid worker resolves on the
	// phone, from its incident page.
	var small struct {
		IncidentID string `json:"incident_id"`
	}
	raw := a.must(t, http.StatusAccepted, http.MethodPost, "/v1/reports", grid, map[string]any{
		"category": "SR-002", "grid": "FH-01-01", "description": "单元门口堆放旧家具",
		"location": map[string]any{"lat": 29.3511, "lng": 104.7702, "address": "凤凰路 12 号 3 单元"}})
	if err := json.Unmarshal(raw, &small); err != nil {
		t.Fatal(err)
	}
	if _, err := a.waitIncident(ctx, small.IncidentID, grid, "with the community", func(in *incident.Incident) bool { return in.Status == "community" }); err != nil {
		t.Fatal(err)
	}
	resolve := `form[hx-post="/c/cmd/resolve/` + small.IncidentID + `"]`
	do("community case", chromedp.Navigate(a.base+"/c/incidents/"+small.IncidentID), chromedp.WaitVisible(`details.action`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("details.action").forEach(d => d.open = true)`, nil),
		chromedp.SendKeys(resolve+` textarea[name="note"]`, "与居民一起清走旧家具", chromedp.ByQuery))
	accessible("incident on a phone")
	shot("incident-community-390.png")
	submit("resolve", resolve)
	waitText("resolved", "main .card h2", "待回访", 10*time.Second)

	// 2. The street whistles from the triage queue (the item's lead is
	// preselected).
	do("desktop", size(1280, 900, false))
	signIn(street)
	do("triage", chromedp.Navigate(a.base+"/c/triage"), chromedp.WaitVisible(`form[hx-post="/c/cmd/whistle/`+id+`"]`, chromedp.ByQuery))
	accessible("triage")
	shot("triage-1280.png")
	submit("whistle", `form[hx-post="/c/cmd/whistle/`+id+`"]`)
	if _, err := a.waitIncident(ctx, id, street, "dispatched", func(in *incident.Incident) bool { return in.Status == "dispatched" }); err != nil {
		t.Fatal(err)
	}
	task := id + "-t1"

	// 3. Another department neither sees nor acts on CG's task.
	signIn(scjg)
	do("stranger", chromedp.Navigate(a.base+"/c/incidents/"+id))
	waitText("stranger reads", "main", "找不到", 10*time.Second)
	var answer string
	do("stranger acks", chromedp.Evaluate(fmt.Sprintf(`fetch("/c/cmd/ack/%s", {method: "POST", headers: {"X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content, "HX-Request": "true"}}).then(r => r.status + " " + r.headers.get("HX-Refresh"))`, task),
		&answer, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if !strings.HasPrefix(answer, "404") && !strings.HasPrefix(answer, "403") {
		t.Fatalf("SCJG acknowledging CG's task through the console: %s, want 403 or 404", answer)
	}
	do("stranger inbox", chromedp.Navigate(a.base+"/c/inbox"), chromedp.WaitVisible(`.tabs`, chromedp.ByQuery))
	var inbox string
	do("stranger inbox text", chromedp.Text("main", &inbox, chromedp.ByQuery))
	if strings.Contains(inbox, task) {
		t.Fatalf("SCJG's inbox lists CG's task %s", task)
	}

	// 4. CG acknowledges in bulk, then completes with a result.
	signIn(cg)
	do("inbox", chromedp.WaitVisible(`input[name="task"][value="`+task+`"]`, chromedp.ByQuery))
	waitText("inbox shows what it is about", "main table", "纸箱", 5*time.Second)
	accessible("inbox")
	shot("inbox-1280.png")
	do("bulk ack", chromedp.Click(`#select-all`, chromedp.ByQuery), chromedp.Click(`#bulk-ack`, chromedp.ByQuery))
	waitText("bulk ack", "#flash", "已报到 1", 30*time.Second)
	do("incident", chromedp.Navigate(a.base+"/c/incidents/"+id), chromedp.WaitVisible(`details.action`, chromedp.ByQuery))
	complete := `form[hx-post="/c/cmd/complete/` + task + `"]`
	do("complete", chromedp.Evaluate(`document.querySelectorAll("details.action").forEach(d => d.open = true)`, nil),
		chromedp.SendKeys(complete+` textarea[name="result"]`, "纸箱已清运，楼道恢复通畅", chromedp.ByQuery))
	submit("complete", complete)
	if _, err := a.waitIncident(ctx, id, street, "verifying", func(in *incident.Incident) bool { return in.Status == "verifying" }); err != nil {
		t.Fatal(err)
	}

	// 5. Verification and the return visit by the street.
	signIn(street)
	do("verify", chromedp.Navigate(a.base+"/c/incidents/"+id), chromedp.WaitVisible(`form[hx-post="/c/cmd/verify/`+id+`"]`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("details.action").forEach(d => d.open = true)`, nil))
	accessible("incident")
	shot("incident-verify-1280.png")
	submit("verify", `form[hx-post="/c/cmd/verify/`+id+`"]`)
	if _, err := a.waitIncident(ctx, id, street, "awaiting feedback", func(in *incident.Incident) bool { return in.Status == "awaiting_feedback" }); err != nil {
		t.Fatal(err)
	}
	fb := `form[hx-post="/c/cmd/feedback/` + id + `"]`
	do("feedback", chromedp.WaitVisible(`details.action`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("details.action").forEach(d => d.open = true)`, nil),
		chromedp.SetValue(fb+` select[name="rating"]`, "satisfied", chromedp.ByQuery))
	submit("return visit", fb)
	if _, err := a.waitIncident(ctx, id, street, "closed", func(in *incident.Incident) bool { return in.Status == "closed" }); err != nil {
		t.Fatal(err)
	}
	waitText("closed", "main .card h2", "已办结", 10*time.Second)
	shot("incident-closed-1280.png")

	// 6. The district's league table shows CG's task.
	signIn(district)
	do("league", chromedp.Navigate(a.base+"/c/league?dim=departments"), chromedp.WaitVisible(`table.league`, chromedp.ByQuery))
	waitText("league", "table.league", "城", 10*time.Second)
	do("chart drawn", chromedp.WaitVisible(`#trend canvas`, chromedp.ByQuery))
	var plotted int
	do("trend series", chromedp.Evaluate(`echarts.getInstanceByDom(document.getElementById("trend")).getOption().series.filter(s => s.data.some(v => v !== null)).length`, &plotted))
	if plotted == 0 {
		t.Error("the trend chart plots no series, though CG has a score this month")
	}
	accessible("league")
	shot("league-1280.png")
	// Narrowed to a channel: the grid's reports hold CG's task, the
	// hotline sent none.
	do("league of the grid", chromedp.SetValue(`#channel`, "grid", chromedp.ByQuery), chromedp.Click(`form.filters button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`table.league`, chromedp.ByQuery))
	waitText("league of the grid", "table.league", "城", 10*time.Second)
	waitText("league of the grid", "p.hint", "grid", 10*time.Second)
	shot("league-grid-1280.png")
	var hotlineRows int
	do("league of the hotline", chromedp.Navigate(a.base+"/c/league?dim=departments&channel=hotline"), chromedp.WaitVisible(`p.hint`, chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll("table.league tbody tr")].filter(r => !r.querySelector("td.empty")).length`, &hotlineRows))
	if hotlineRows != 0 {
		t.Errorf("the hotline's league shows %d rows, though it sent nothing", hotlineRows)
	}
	accessible("league of a channel")
	do("league on a phone", size(390, 844, true), chromedp.Navigate(a.base+"/c/league?dim=departments&channel=grid"),
		chromedp.WaitVisible(`table.league`, chromedp.ByQuery))
	shot("league-grid-390.png")
	do("back to a desk", size(1280, 900, false))

	// 6b. The district replays this month with every acknowledgement
	// deadline cut to a second: the job runs in the background and its
	// page, which follows it, shows the comparison once the identity check
	// holds, with CG's acknowledgement turned late.
	file, err := os.ReadFile(browserJurisdiction(t))
	if err != nil {
		t.Fatal(err)
	}
	half := regexp.MustCompile(`ack: (1h|30m|20s)\b`).ReplaceAllString(string(file), "ack: 1s")
	here, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	whatifForm := `form[hx-post="/c/whatif"]`
	do("whatif", chromedp.Navigate(a.base+"/c/whatif"), chromedp.WaitVisible(whatifForm, chromedp.ByQuery),
		chromedp.SetValue(`#w-month`, time.Now().In(here).Format("2006-01"), chromedp.ByQuery),
		chromedp.SetValue(`#w-rules`, half, chromedp.ByQuery))
	submit("start the replay", whatifForm)
	waitText("replay done", "#job", "逐行一致", 90*time.Second)
	waitText("replay's departments", "#job table.whatif", "→", 10*time.Second)
	waitText("replay's flips", "#job", "ack: on_time → late", 10*time.Second)
	accessible("whatif")
	shot("whatif-1280.png")
	do("whatif on a phone", size(390, 844, true), chromedp.Reload(), chromedp.WaitVisible(`#job table.whatif`, chromedp.ByQuery))
	shot("whatif-390.png")
	do("back to a desk", size(1280, 900, false))
	do("replays", chromedp.Navigate(a.base+"/c/whatif"), chromedp.WaitVisible(`a[href^="/c/whatif/"]`, chromedp.ByQuery))
	accessible("whatif list")
	shot("whatif-list-1280.png")

	// 7. The wall board shows a task that runs late without a reload.
	signIn(street)
	do("wall", size(1920, 1080, false), chromedp.Navigate(a.base+"/c/board"), chromedp.WaitVisible(`#board-rows`, chromedp.ByQuery))
	waitText("live", "#live", "实时", 10*time.Second)
	var late struct {
		IncidentID string `json:"incident_id"`
	}
	raw = a.must(t, http.StatusAccepted, http.MethodPost, "/v1/reports", grid, map[string]any{
		"category": "JS-002", "grid": "FH-01-01", "description": "学校门口路面坑洼，无人报到",
		"location": map[string]any{"lat": 29.352, "lng": 104.771, "address": "凤凰路小学门口"}})
	if err := json.Unmarshal(raw, &late); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitText("board without reload", "#board-rows", "无人报到", 90*time.Second)
	t.Logf("the late task showed on the open board %s after its report (ack deadline 20 s)", time.Since(start).Round(100*time.Millisecond))
	shot("board-1920.png")
	accessible("board")
	do("board on a phone", size(390, 844, true), chromedp.Reload(), chromedp.WaitVisible(`#board-rows`, chromedp.ByQuery))
	waitText("board on a phone", "#board-rows", "无人报到", 10*time.Second)
	shot("board-390.png")
	do("map", size(1280, 900, false), chromedp.Navigate(a.base+"/c/map"), chromedp.WaitVisible(`#map .leaflet-interactive`, chromedp.ByQuery))
	shot("map-1280.png")

	// 8. A dispute: ZJ returns its task (退单); the street overrules it.
	lateTask := late.IncidentID + "-t1"
	signIn(zj)
	ret := `form[hx-post="/c/cmd/return/` + lateTask + `"]`
	do("return", chromedp.Navigate(a.base+"/c/incidents/"+late.IncidentID), chromedp.WaitVisible(`details.action`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("details.action").forEach(d => d.open = true)`, nil),
		chromedp.SendKeys(ret+` textarea[name="reason"]`, "校门口道路归交通部门养护", chromedp.ByQuery))
	submit("return", ret)
	signIn(street)
	over := `form[hx-post="/c/cmd/overrule/` + lateTask + `"]`
	do("disputes", chromedp.Navigate(a.base+"/c/disputes"), chromedp.WaitVisible(over, chromedp.ByQuery))
	waitText("dispute shows the reason", "main", "归交通部门养护", 5*time.Second)
	accessible("disputes")
	shot("disputes-1280.png")
	do("overrule", chromedp.SendKeys(over+` input[name="note"]`, "清单规定住建牵头", chromedp.ByQuery))
	submit("overrule", over)
	if _, err := a.waitIncident(ctx, late.IncidentID, street, "overruled", func(in *incident.Incident) bool {
		return in.Task(lateTask).Status == incident.TaskPendingAck
	}); err != nil {
		t.Fatal(err)
	}

	// 9. ZJ acknowledges and asks for more time; the street approves from
	// its queue of extension requests.
	signIn(zj)
	ext := `form[hx-post="/c/cmd/extension/` + lateTask + `"]`
	do("ack again", chromedp.Navigate(a.base+"/c/inbox"), chromedp.WaitVisible(`input[name="task"][value="`+lateTask+`"]`, chromedp.ByQuery),
		chromedp.Click(`input[name="task"][value="`+lateTask+`"]`, chromedp.ByQuery), chromedp.Click(`#bulk-ack`, chromedp.ByQuery))
	waitText("ack again", "#flash", "已报到 1", 30*time.Second)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().In(shanghai).AddDate(0, 1, 0).Format("2006-01-02T15:04")
	do("ask for time", chromedp.Navigate(a.base+"/c/incidents/"+late.IncidentID), chromedp.WaitVisible(ext, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("details.action").forEach(d => d.open = true)`, nil),
		chromedp.SetValue(ext+` input[name="until"]`, until, chromedp.ByQuery),
		chromedp.SendKeys(ext+` textarea[name="reason"]`, "沥青需等气温回升", chromedp.ByQuery))
	submit("ask for time", ext)
	signIn(street)
	decide := `form[hx-post="/c/cmd/extension_decision/` + lateTask + `"]`
	do("extensions", chromedp.Navigate(a.base+"/c/disputes"), chromedp.WaitVisible(decide, chromedp.ByQuery))
	waitText("the request shows its reason", "main", "沥青需等气温回升", 5*time.Second)
	shot("extensions-1280.png")
	submit("approve", decide)
	if _, err := a.waitIncident(ctx, late.IncidentID, street, "extended", func(in *incident.Incident) bool {
		return in.Task(lateTask).Extensions == 1
	}); err != nil {
		t.Fatal(err)
	}

	// 10. In English.
	do("english", chromedp.Click(`form[action="/lang"] button`, chromedp.ByQuery))
	waitText("english", "main h1", "Disputes", 10*time.Second)
	do("english board", chromedp.Navigate(a.base+"/c/board"), chromedp.WaitVisible(`#board-rows`, chromedp.ByQuery))
	waitText("english board", "main h1", "Overdue board", 5*time.Second)
	shot("board-en-1280.png")
	do("chinese", chromedp.Click(`form[action="/lang"] button`, chromedp.ByQuery))
	waitText("chinese", "main h1", "超期看板", 10*time.Second)

	// 11. The admin: an item's versions, an edit with a reason.
	signIn(admin)
	edit := `form[hx-post="/c/catalogue/JT-002"]`
	do("catalogue", chromedp.WaitVisible(`a[href="/c/catalogue/JT-002"]`, chromedp.ByQuery), chromedp.Click(`a[href="/c/catalogue/JT-002"]`, chromedp.ByQuery),
		chromedp.WaitVisible(edit, chromedp.ByQuery),
		chromedp.Evaluate(`(() => { const t = document.getElementById("item-json"); const it = JSON.parse(t.value); it.name = "公交站台设施损坏（含候车亭）"; t.value = JSON.stringify(it, null, 2); })()`, nil),
		chromedp.SendKeys(edit+` input[name="reason"]`, "候车亭并入此项", chromedp.ByQuery))
	submit("edit item", edit)
	waitText("item versions", ".versions", "候车亭并入此项", 10*time.Second)
	accessible("item")
	shot("item-1280.png")

	// The admin gives an Open311 client a key limited to FH, which
	// works at once, and revokes it, after which it does not.
	create := `form[hx-post="/c/open311"]`
	do("open311 keys", chromedp.Navigate(a.base+"/c/open311"), chromedp.WaitVisible(create, chromedp.ByQuery),
		chromedp.SendKeys(create+` input[name="client"]`, "fms-console", chromedp.ByQuery),
		chromedp.Click(create+` input[value="FH"]`, chromedp.ByQuery),
		chromedp.Click(create+` button[type="submit"]`, chromedp.ByQuery))
	waitText("new key", "#flash", "w311_", 10*time.Second)
	var flash string
	do("new key", chromedp.Text("#flash", &flash, chromedp.ByQuery))
	key := flash[strings.Index(flash, "w311_"):]
	if i := strings.IndexAny(key, " \n"); i > 0 {
		key = key[:i]
	}
	lat, lng, _ := jurisdiction.Default().PointIn("FH-01-02")
	open311 := func() int {
		t.Helper()
		res, err := http.PostForm(a.base+"/open311/v2/requests.json", url.Values{"api_key": {key}, "service_code": {"SR-002"},
			"lat": {fmt.Sprint(lat)}, "long": {fmt.Sprint(lng)}, "description": {"楼下堆满杂物"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := open311(); code != http.StatusOK {
		t.Fatalf("a report with the console's new key: %d", code)
	}
	do("open311 keys again", chromedp.Navigate(a.base+"/c/open311"), chromedp.WaitVisible(`form[hx-post$="/revoke"]`, chromedp.ByQuery),
		chromedp.Evaluate(`window.confirm = () => true`, nil))
	submit("revoke", `form[hx-post$="/revoke"]`)
	waitText("revoked", "table.list", "已吊销", 10*time.Second)
	accessible("open311")
	shot("open311-1280.png")
	if code := open311(); code != http.StatusForbidden {
		t.Errorf("a report with the revoked key: %d, want 403", code)
	}

	// 12. The API reference works offline (this browser has no internet).
	var png []byte
	do("docs", chromedp.Navigate(a.base+"/docs"), chromedp.WaitVisible(`.swagger-ui .opblock`, chromedp.ByQuery),
		chromedp.CaptureScreenshot(&png)) // its first screen: the whole reference is 7,000 px tall
	if err := os.WriteFile(filepath.Join(shots, "docs-1280.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}

	metricsCheck(t, env, "--data-dir", dataDir)
}
