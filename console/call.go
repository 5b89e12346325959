package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/whistle-city/whistle/api"
)

// apiError is a non-2xx answer of the API: its problem, to be shown in
// words.
type apiError struct {
	api.Problem
}

func (e *apiError) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.Title
}

// call sends one request to the API in process, as the session's person,
// and decodes a 2xx answer's JSON into out (when not nil). Any other answer
// is an *apiError carrying the API's problem. hdr are extra header pairs.
func (con *Console) call(r *http.Request, method, path string, body any, out any, hdr ...string) error {
	s := sessionFrom(r.Context())
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(r.Context(), method, path, rd)
	req.RemoteAddr = r.RemoteAddr
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if s != nil {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	con.cfg.API.ServeHTTP(rec, req)
	res := rec.Result()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		e := &apiError{}
		if json.Unmarshal(raw, &e.Problem) != nil || e.Status == 0 {
			e.Status, e.Title = res.StatusCode, http.StatusText(res.StatusCode)
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("console: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// raw sends one GET to the API and returns the answer as it is (for a CSV
// download).
func (con *Console) raw(r *http.Request, path, accept string) *http.Response {
	s := sessionFrom(r.Context())
	req := httptest.NewRequestWithContext(r.Context(), http.MethodGet, path, nil)
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer "+s.token)
	rec := httptest.NewRecorder()
	con.cfg.API.ServeHTTP(rec, req)
	return rec.Result()
}

// words says what went wrong for the person: a sentence by status in the
// console's language, then the API's own detail.
func words(lang string, err error) string {
	e, ok := err.(*apiError)
	if !ok {
		return tr(lang, "出错了：") + err.Error()
	}
	var lead string
	switch e.Status {
	case http.StatusUnauthorized:
		lead = tr(lang, "登录已过期，请重新登录。")
	case http.StatusForbidden:
		lead = tr(lang, "您无权执行此操作。")
	case http.StatusNotFound:
		lead = tr(lang, "找不到，或不在您的范围内。")
	case http.StatusConflict:
		lead = tr(lang, "当前状态不允许此操作，没有做任何更改。")
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		lead = tr(lang, "输入有误，请修改后重试。")
	case http.StatusRequestEntityTooLarge:
		lead = tr(lang, "内容太长。")
	case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		lead = tr(lang, "系统忙，请稍后重试；没有做任何更改。")
	default:
		lead = tr(lang, "出错了：")
	}
	detail := e.Error()
	for _, d := range e.Errors {
		if d != nil && d.Message != "" {
			detail += "; " + d.Location + ": " + d.Message
		}
	}
	if detail == "" {
		return lead
	}
	return lead + " " + detail
}
