package console

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
)

// TestEveryTextHasEnglish: every text a template or handler translates has
// an English entry, so switching to English leaves no Chinese behind.
func TestEveryTextHasEnglish(t *testing.T) {
	var texts []string
	quoted := regexp.MustCompile(`\.T "([^"]+)"`)
	called := regexp.MustCompile(`tr\([a-z.]+, "([^"]+)"\)`)
	for _, glob := range []string{"templates/*.html", "*.go"} {
		names, _ := filepath.Glob(glob)
		for _, n := range names {
			if strings.HasSuffix(n, "_test.go") {
				continue
			}
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			for _, re := range []*regexp.Regexp{quoted, called} {
				for _, m := range re.FindAllStringSubmatch(string(b), -1) {
					texts = append(texts, m[1])
				}
			}
		}
	}
	for _, m := range []map[string]string{statusWords, entryWords, fieldLabels, commandLabels, leagueDims, titles} {
		for _, v := range m {
			texts = append(texts, v)
		}
	}
	for _, v := range roleWords {
		texts = append(texts, v)
	}
	for _, tab := range inboxTabs {
		texts = append(texts, tab.label)
	}
	for _, role := range []incident.Role{incident.RoleGridWorker, incident.RoleStreet, incident.RoleDepartment, incident.RoleDistrict, incident.RoleAdmin} {
		for _, n := range nav(role, "") {
			texts = append(texts, n.Label)
		}
	}
	if len(texts) < 100 {
		t.Fatalf("found only %d texts: the scan is broken", len(texts))
	}
	for _, s := range texts {
		if _, ok := english[s]; !ok {
			t.Errorf("no English for %q", s)
		}
	}
}

// TestBoardRendersPlainText: the wall board's live marker carries its words
// as text; html/template quotes the value of an attribute it takes for
// script (data-on… counts as on…), which the marker then showed in quotes.
func TestBoardRendersPlainText(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	con := &Console{pages: p, cfg: Config{Jurisdiction: jurisdiction.Default}, now: time.Now}
	r := httptest.NewRequest("GET", "/c/board", nil)
	v := con.newView(r, &session{lang: "zh", csrf: "x", token: "t", actor: incident.Actor{Role: incident.RoleStreet, Org: "FH"}}, "超期看板", boardView{Live: true})
	var buf bytes.Buffer
	if err := p.byName["board"].ExecuteTemplate(&buf, "layout", v); err != nil {
		t.Fatal(err)
	}
	want := `<span class="live" id="live" data-live="实时" data-lost="连接中断，正在重连">实时</span>`
	if !strings.Contains(buf.String(), want) {
		i := strings.Index(buf.String(), `id="live"`)
		t.Errorf("live marker renders as\n%s\nwant %s", buf.String()[max(i-30, 0):i+150], want)
	}
}

// TestVendoredVersions: static/vendor/VERSIONS, written by vendor.sh, names
// exactly the packages and versions vendor.sh pins, so the committed files
// are what the script vendors.
func TestVendoredVersions(t *testing.T) {
	script, err := os.ReadFile("vendor.sh")
	if err != nil {
		t.Fatal(err)
	}
	var pinned []string
	for _, m := range regexp.MustCompile(`(?m)^\s+([a-z@./-]+)@([0-9][0-9.]*)\s`).FindAllStringSubmatch(string(script), -1) {
		pinned = append(pinned, m[1]+" "+m[2])
	}
	got, err := os.ReadFile("static/vendor/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	slices.Sort(pinned)
	if !slices.Equal(pinned, lines) {
		t.Errorf("vendor.sh pins %q, static/vendor/VERSIONS says %q: run console/vendor.sh", pinned, lines)
	}
}
