package console

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/whatif"
)

// whatifView is the replays page: the form and the latest replays.
type whatifView struct {
	Month string
	Jobs  []*api.WhatifJob
}

// maxRulesBytes bounds an uploaded jurisdiction file (the API's limit).
const maxRulesBytes = 4_000_000

// whatifPage lists the latest replays and offers a new one, of last month
// by default.
func (con *Console) whatifPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var list struct {
		Items []*api.WhatifJob `json:"items"`
	}
	if err := con.call(r, http.MethodGet, "/v1/whatif", nil, &list); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	now := con.now().In(con.cfg.Jurisdiction().Location())
	last := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()).AddDate(0, -1, 0)
	con.render(w, r, http.StatusOK, "whatif", s, whatifView{Month: last.Format("2006-01"), Jobs: list.Items})
}

// startWhatif sends the month and the proposed file (uploaded, or pasted)
// to POST /v1/whatif and takes the browser to the replay's page.
func (con *Console) startWhatif(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	if err := r.ParseMultipartForm(maxRulesBytes); err != nil && err != http.ErrNotMultipart {
		con.flash(w, r, http.StatusUnprocessableEntity, "", tr(s.lang, "文件太大或无法读取。"))
		return
	}
	rules := r.PostFormValue("rules")
	if f, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(io.LimitReader(f, maxRulesBytes+1))
		f.Close()
		if err != nil || len(b) > maxRulesBytes {
			con.flash(w, r, http.StatusUnprocessableEntity, "", tr(s.lang, "文件太大或无法读取。"))
			return
		}
		if len(b) > 0 {
			rules = string(b)
		}
	}
	if strings.TrimSpace(rules) == "" {
		con.flash(w, r, http.StatusUnprocessableEntity, "", tr(s.lang, "请选择或粘贴拟议的规则文件。"))
		return
	}
	var job api.WhatifJob
	body := map[string]any{"month": strings.TrimSpace(r.PostFormValue("month")), "rules": rules}
	if err := con.call(r, http.MethodPost, "/v1/whatif", body, &job); err != nil {
		con.flash(w, r, statusOf(err), "", words(s.lang, err))
		return
	}
	w.Header().Set("HX-Redirect", "/c/whatif/"+url.PathEscape(job.ID))
	w.WriteHeader(http.StatusOK)
}

// whatifJobPage shows a replay: its progress while it runs (the page
// refreshes itself), then the answer.
func (con *Console) whatifJobPage(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	var job api.WhatifJob
	if err := con.call(r, http.MethodGet, "/v1/whatif/"+url.PathEscape(r.PathValue("id")), nil, &job); err != nil {
		con.fail(w, r, statusOf(err), words(s.lang, err))
		return
	}
	con.render(w, r, http.StatusOK, "whatif_job", s, &job)
}

// jobData and rowData carry the view into the replay templates' blocks.
type jobData struct {
	V *view
	J *api.WhatifJob
}

type rowData struct {
	V   *view
	Dim string
	R   whatif.RowChange
}
