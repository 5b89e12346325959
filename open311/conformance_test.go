package open311_test

// The conformance test of the Open311 GeoReport v2 endpoint, in XML and in
// JSON. Its cases are taken from mysociety's open311-adapter test suite
// (t/open311/endpoint.t: the service list, service definitions with a
// number and a singlevaluelist attribute, the POST validations, valid
// POSTs, the request list and filters, single requests) and from the
// spec's examples (discovery, tokens, errors, dates, statuses), played
// against the real intake on PostgreSQL and NATS. The service codes and
// attributes follow the adapter's pothole service (testdata/district.yaml).

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/whistle-city/whistle/api"
	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/devstack/devtest"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/metrics"
	"github.com/whistle-city/whistle/open311"
	"github.com/whistle-city/whistle/store"
)

func TestMain(m *testing.M) { devtest.Main(m) }

// env is the endpoint over the real intake: the API server's Report on a
// fresh database and an embedded NATS server (no workflow runs: incidents
// stay received unless a test projects them further).
type env struct {
	t     testing.TB
	url   string
	store *store.Store
	bus   *bus.Bus
	jur   *jurisdiction.Jurisdiction
}

func newEnv(t *testing.T) *env { return newEnvWith(t, true) }

// newEnvWith is newEnv; without streams, every publish of a report fails.
func newEnvWith(t testing.TB, streams bool) *env {
	t.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile("testdata/district.yaml")
	if err != nil {
		t.Fatal(err)
	}
	j, err := jurisdiction.Parse("testdata/district.yaml", raw)
	if err != nil {
		t.Fatalf("jurisdiction: %v", err)
	}
	dbURL := devtest.Postgres(t)
	if err := store.Migrate(ctx, dbURL); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	b, err := bus.Connect(ctx, devtest.NATS(t), "open311-test")
	if err != nil {
		t.Fatalf("connect bus: %v", err)
	}
	t.Cleanup(b.Close)
	if streams {
		if err := b.EnsureStreams(ctx); err != nil {
			t.Fatalf("ensure streams: %v", err)
		}
	}
	quiet := slog.New(slog.DiscardHandler)
	jur := func() *jurisdiction.Jurisdiction { return j }
	srv, err := api.NewServer(api.Config{Store: st, Metrics: metrics.New(st.Pool()), Publisher: b,
		Jurisdiction: jur, JWTSecret: []byte("open311-test"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	o, err := open311.New(open311.Config{Reports: srv, Store: st, Jurisdiction: jur, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(open311.Handler(o, srv))
	t.Cleanup(hs.Close)
	return &env{t: t, url: hs.URL, store: st, bus: b, jur: j}
}

// key mints a key for client with the given limits (0: the defaults).
func (e *env) key(client string, streets, items []string, rate, body int) string {
	e.t.Helper()
	if rate == 0 {
		rate = 6000
	}
	if body == 0 {
		body = store.DefaultOpen311MaxBody
	}
	_, k, err := e.store.CreateOpen311Key(context.Background(), store.Everything, store.Open311Key{
		Client: client, Streets: streets, Items: items, RatePerMinute: rate, MaxBodyBytes: body})
	if err != nil {
		e.t.Fatalf("create key: %v", err)
	}
	return k
}

type response struct {
	status int
	ctype  string
	body   []byte
}

func (e *env) get(path string, q url.Values) response {
	e.t.Helper()
	u := e.url + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	res, err := http.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	return read(e.t, res)
}

func (e *env) post(path string, form url.Values) response {
	e.t.Helper()
	res, err := http.PostForm(e.url+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return read(e.t, res)
}

func read(t testing.TB, res *http.Response) response {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: b}
}

// want checks the status and the media type of the path's format.
func (r response) want(t *testing.T, status int, path string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", path, r.status, status, r.body)
	}
	media := "application/json"
	if strings.HasSuffix(path, ".xml") {
		media = "text/xml"
		if !bytes.HasPrefix(r.body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
			t.Errorf("%s: no XML declaration with its encoding: %.60s", path, r.body)
		}
	}
	if !strings.HasPrefix(r.ctype, media) {
		t.Errorf("%s: Content-Type %q, want %s", path, r.ctype, media)
	}
}

// The XML documents as a client (FixMyStreet) reads them: by element name.
type xService struct {
	Code, Name, Description, Metadata, Type, Keywords, Group string
}

type xServices struct {
	XMLName  xml.Name `xml:"services"`
	Services []struct {
		Code        string `xml:"service_code"`
		Name        string `xml:"service_name"`
		Description string `xml:"description"`
		Metadata    string `xml:"metadata"`
		Type        string `xml:"type"`
		Keywords    string `xml:"keywords"`
		Group       string `xml:"group"`
	} `xml:"service"`
}

type xDefinition struct {
	XMLName     xml.Name `xml:"service_definition"`
	ServiceCode string   `xml:"service_code"`
	Attributes  []struct {
		Variable            string `xml:"variable"`
		Code                string `xml:"code"`
		Datatype            string `xml:"datatype"`
		Required            string `xml:"required"`
		DatatypeDescription string `xml:"datatype_description"`
		Order               string `xml:"order"`
		Description         string `xml:"description"`
		Values              []struct {
			Key  string `xml:"key"`
			Name string `xml:"name"`
		} `xml:"values>value"`
	} `xml:"attributes>attribute"`
}

type xRequest struct {
	ServiceRequestID  string  `xml:"service_request_id" json:"service_request_id"`
	Token             string  `xml:"token" json:"token"`
	Status            string  `xml:"status" json:"status"`
	StatusNotes       string  `xml:"status_notes" json:"status_notes"`
	ServiceName       string  `xml:"service_name" json:"service_name"`
	ServiceCode       string  `xml:"service_code" json:"service_code"`
	Description       string  `xml:"description" json:"description"`
	AgencyResponsible string  `xml:"agency_responsible" json:"agency_responsible"`
	ServiceNotice     string  `xml:"service_notice" json:"service_notice"`
	RequestedDatetime string  `xml:"requested_datetime" json:"requested_datetime"`
	UpdatedDatetime   string  `xml:"updated_datetime" json:"updated_datetime"`
	ExpectedDatetime  string  `xml:"expected_datetime" json:"expected_datetime"`
	Address           string  `xml:"address" json:"address"`
	Lat               float64 `xml:"lat" json:"lat"`
	Long              float64 `xml:"long" json:"long"`
	MediaURL          string  `xml:"media_url" json:"media_url"`
	AccountID         string  `xml:"account_id" json:"account_id"`
}

type xRequests struct {
	XMLName  xml.Name   `xml:"service_requests"`
	Requests []xRequest `xml:"request"`
}

type xErrors struct {
	XMLName xml.Name `xml:"errors"`
	Errors  []struct {
		Code        int    `xml:"code" json:"code"`
		Description string `xml:"description" json:"description"`
	} `xml:"error"`
}

// requestsOf decodes a service_requests document of either format.
func requestsOf(t *testing.T, path string, r response) []xRequest {
	t.Helper()
	if strings.HasSuffix(path, ".xml") {
		var doc xRequests
		if err := xml.Unmarshal(r.body, &doc); err != nil {
			t.Fatalf("%s: %v: %s", path, err, r.body)
		}
		return doc.Requests
	}
	var list []xRequest
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("%s: %v: %s", path, err, r.body)
	}
	if list == nil {
		t.Fatalf("%s: not a JSON array: %s", path, r.body)
	}
	return list
}

// errorsOf checks an error answer of either format: status, each error's
// code equal to it, and a description containing want.
func errorsOf(t *testing.T, path string, r response, status int, want string) {
	t.Helper()
	r.want(t, status, path)
	var doc xErrors
	var err error
	if strings.HasSuffix(path, ".xml") {
		err = xml.Unmarshal(r.body, &doc)
	} else {
		err = json.Unmarshal(r.body, &doc.Errors)
	}
	if err != nil || len(doc.Errors) == 0 {
		t.Fatalf("%s: not an errors document (%v): %s", path, err, r.body)
	}
	found := false
	for _, e := range doc.Errors {
		if e.Code != status {
			t.Errorf("%s: error code %d, want %d", path, e.Code, status)
		}
		found = found || strings.Contains(e.Description, want)
	}
	if !found {
		t.Errorf("%s: no error says %q: %s", path, want, r.body)
	}
}

var w3cDatetime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$`)

// In grid A-01-01 of street A, and in B-01-01 of street B.
var inA = url.Values{"lat": {"29.32"}, "long": {"104.72"}}
var inB = url.Values{"lat": {"29.32"}, "long": {"104.78"}}

func form(base url.Values, kv ...string) url.Values {
	f := url.Values{}
	for k, v := range base {
		f[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

func TestConformance(t *testing.T) {
	e := newEnv(t)
	key := e.key("fixmystreet", nil, nil, 0, 0)

	t.Run("service list", func(t *testing.T) { // endpoint.t: GET /services.xml, .json
		for _, p := range []string{"/open311/v2/services.xml", "/open311/v2/services.json"} {
			r := e.get(p, nil)
			r.want(t, http.StatusOK, p)
			var got []xService
			if strings.HasSuffix(p, ".xml") {
				var doc xServices
				if err := xml.Unmarshal(r.body, &doc); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				for _, s := range doc.Services {
					got = append(got, xService{s.Code, s.Name, s.Description, s.Metadata, s.Type, s.Keywords, s.Group})
				}
			} else {
				var list []map[string]any
				if err := json.Unmarshal(r.body, &list); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				for _, s := range list {
					got = append(got, xService{s["service_code"].(string), s["service_name"].(string), s["description"].(string),
						jsonBool(t, s["metadata"]), s["type"].(string), s["keywords"].(string), s["group"].(string)})
				}
			}
			want := []xService{
				{"POT", "道路坑洼", "道路坑洼 (Pothole repairs)", "true", "realtime", "", "市政设施"},
				{"BIN", "垃圾满溢", "垃圾满溢", "false", "realtime", "", "市容环境"},
				{"SR-002", "乱堆乱放", "乱堆乱放", "false", "realtime", "", "市容环境"},
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d services, want %d: %s", p, len(got), len(want), r.body)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%s: service %d = %+v, want %+v", p, i, got[i], want[i])
				}
			}
		}
	})

	t.Run("service definition", func(t *testing.T) { // endpoint.t: GET /services/POT.xml, .json
		p := "/open311/v2/services/POT.xml"
		r := e.get(p, nil)
		r.want(t, http.StatusOK, p)
		var def xDefinition
		if err := xml.Unmarshal(r.body, &def); err != nil {
			t.Fatal(err)
		}
		if def.ServiceCode != "POT" || len(def.Attributes) != 2 {
			t.Fatalf("definition %+v", def)
		}
		d, s := def.Attributes[0], def.Attributes[1]
		if d.Code != "depth" || d.Datatype != "number" || d.Required != "true" || d.Variable != "true" || d.Order != "1" ||
			d.DatatypeDescription != "an integer" || len(d.Values) != 0 {
			t.Errorf("depth = %+v", d)
		}
		// The values in the order the file gives them (endpoint.t's SPOT).
		if s.Code != "shape" || s.Datatype != "singlevaluelist" || s.Required != "false" || s.Order != "2" ||
			len(s.Values) != 3 || s.Values[0].Key != "circle" || s.Values[1].Key != "triangle" || s.Values[2].Name != "Square" {
			t.Errorf("shape = %+v", s)
		}
		p = "/open311/v2/services/POT.json"
		r = e.get(p, nil)
		r.want(t, http.StatusOK, p)
		var js struct {
			ServiceCode string           `json:"service_code"`
			Attributes  []map[string]any `json:"attributes"`
		}
		if err := json.Unmarshal(r.body, &js); err != nil {
			t.Fatal(err)
		}
		if js.ServiceCode != "POT" || len(js.Attributes) != 2 || js.Attributes[0]["code"] != "depth" ||
			jsonBool(t, js.Attributes[0]["required"]) != "true" || js.Attributes[0]["order"] != float64(1) ||
			len(js.Attributes[1]["values"].([]any)) != 3 {
			t.Errorf("POT.json = %s", r.body)
		}
		// A service without attributes has an empty list, not none.
		r = e.get("/open311/v2/services/BIN.json", nil)
		if !strings.Contains(string(r.body), `"attributes":[]`) {
			t.Errorf("BIN.json = %s", r.body)
		}
		for _, p := range []string{"/open311/v2/services/NOPE.xml", "/open311/v2/services/NOPE.json"} {
			errorsOf(t, p, e.get(p, nil), http.StatusNotFound, "NOPE not found")
		}
	})

	t.Run("POST validation", func(t *testing.T) { // endpoint.t's invalid POSTs, with the spec's statuses
		p := "/open311/v2/requests.json"
		errorsOf(t, p, e.post(p, url.Values{}), http.StatusForbidden, "api_key is required")
		errorsOf(t, p, e.post(p, form(inA, "service_code", "BIN")), http.StatusForbidden, "api_key is required")
		errorsOf(t, p, e.post(p, form(inA, "service_code", "BIN", "api_key", "w311_nonsense")), http.StatusForbidden, "invalid api_key")
		errorsOf(t, p, e.post(p, form(inA, "api_key", key)), http.StatusBadRequest, "service_code is required")
		errorsOf(t, p, e.post(p, form(inA, "api_key", key, "service_code", "BADGER")), http.StatusNotFound, "BADGER not found")
		pot := form(inA, "api_key", key, "service_code", "POT", "address_string", "22 Acacia Avenue", "first_name", "Bob", "last_name", "Mould")
		errorsOf(t, p, e.post(p, pot), http.StatusBadRequest, "attribute[depth]: is required")
		errorsOf(t, p, e.post(p, form(pot, "attribute[depth]", "100", "attribute[shape]", "starfish")), http.StatusBadRequest,
			`attribute[shape]: "starfish" is not one of circle, triangle, square`)
		errorsOf(t, p, e.post(p, form(pot, "attribute[depth]", "abc")), http.StatusBadRequest, `"abc" is not a number`)
		noPlace := url.Values{"api_key": {key}, "service_code": {"BIN"}, "address_string": {"22 Acacia Avenue"}}
		errorsOf(t, p, e.post(p, noPlace), http.StatusBadRequest, "lat and long are required")
		errorsOf(t, p, e.post(p, form(noPlace, "lat", "29.32")), http.StatusBadRequest, "lat and long go together")
		errorsOf(t, p, e.post(p, form(noPlace, "lat", "abc", "long", "104.72")), http.StatusBadRequest, "must be numbers")
		errorsOf(t, p, e.post(p, form(noPlace, "lat", "39.9", "long", "116.4")), http.StatusBadRequest, "outside every grid")
		errorsOf(t, p, e.post(p, form(inA, "api_key", key, "service_code", "BIN", "media_url", "javascript:alert(1)")),
			http.StatusBadRequest, "media_url")
		errorsOf(t, "/open311/v2/requests.xml", e.post("/open311/v2/requests.xml", form(inA, "api_key", key, "service_code", "BADGER")),
			http.StatusNotFound, "BADGER not found")
		if n := e.count(); n != 0 {
			t.Errorf("%d incidents after refused requests, want 0", n)
		}
	})

	var first, second string
	t.Run("valid POSTs", func(t *testing.T) { // endpoint.t: valid POST in JSON, in XML, an optional list left blank
		p := "/open311/v2/requests.json"
		r := e.post(p, form(inA, "api_key", key, "service_code", "POT", "address_string", "22 Acacia Avenue",
			"first_name", "Bob", "last_name", "Mould", "attribute[depth]", "100", "attribute[shape]", "triangle",
			"description", "路面塌陷一处", "account_id", "acc-1"))
		r.want(t, http.StatusOK, p)
		got := requestsOf(t, p, r)
		if len(got) != 1 || got[0].ServiceRequestID == "" || got[0].Token != "" || got[0].AccountID != "acc-1" ||
			!strings.Contains(got[0].ServiceNotice, "1 hour") || !strings.Contains(got[0].ServiceNotice, "3 working days") {
			t.Fatalf("POST answer %s", r.body)
		}
		first = got[0].ServiceRequestID
		in, err := e.store.Incident(context.Background(), store.Everything, first)
		if err != nil {
			t.Fatal(err)
		}
		if in.Grid != "A-01-01" || in.Street != "A" || in.Channel != "open311:fixmystreet" || in.Status != incident.StatusReceived ||
			in.Location.Address != "22 Acacia Avenue" || in.Attributes["depth"][0] != "100" || in.Attributes["shape"][0] != "triangle" {
			t.Errorf("incident %+v", in)
		}

		p = "/open311/v2/requests.xml"
		r = e.post(p, form(inB, "api_key", key, "service_code", "POT", "attribute[depth]", "12", "attribute[shape]", "",
			"media_url", "https://example.org/1.jpg", "media_url", "https://example.org/2.jpg", "deviceid", "x", "attribute[What is this?]", "starfish"))
		r.want(t, http.StatusOK, p)
		got = requestsOf(t, p, r)
		if len(got) != 1 || got[0].ServiceRequestID == "" || got[0].ServiceRequestID == first {
			t.Fatalf("POST answer %s", r.body)
		}
		second = got[0].ServiceRequestID
		in, err = e.store.Incident(context.Background(), store.Everything, second)
		if err != nil {
			t.Fatal(err)
		}
		if in.Grid != "B-01-01" || len(in.Photos) != 2 || in.Description != "道路坑洼" || len(in.Attributes) != 1 {
			t.Errorf("incident %+v", in)
		}
	})

	t.Run("the same request twice in a minute is one incident", func(t *testing.T) {
		f := form(inA, "api_key", key, "service_code", "BIN", "device_id", "phone-7", "description", "垃圾桶满了")
		a := requestsOf(t, ".json", e.post("/open311/v2/requests.json", f))
		b := requestsOf(t, ".xml", e.post("/open311/v2/requests.xml", f))
		if len(a) != 1 || len(b) != 1 || a[0].ServiceRequestID != b[0].ServiceRequestID {
			t.Fatalf("repeat answered %v and %v", a, b)
		}
		f.Set("device_id", "phone-8")
		other := requestsOf(t, ".json", e.post("/open311/v2/requests.json", f))
		if other[0].ServiceRequestID == a[0].ServiceRequestID {
			t.Errorf("another device's report was taken for a repeat")
		}
	})

	t.Run("a multipart POST", func(t *testing.T) { // FixMyStreet sends multipart when it attaches photos
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range map[string]string{"api_key": key, "service_code": "BIN", "lat": "29.33", "long": "104.71", "description": "多部分"} {
			_ = mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("photo1", "a.jpg")
		_, _ = fw.Write([]byte("not really a jpeg"))
		_ = mw.Close()
		res, err := http.Post(e.url+"/open311/v2/requests.json", mw.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		r := read(t, res)
		r.want(t, http.StatusOK, ".json")
		if got := requestsOf(t, ".json", r); len(got) != 1 || got[0].ServiceRequestID == "" {
			t.Errorf("multipart answer %s", r.body)
		}
	})

	t.Run("request list and filters", func(t *testing.T) { // endpoint.t: GET /requests.xml, ?service_code=
		all := url.Values{"api_key": {key}}
		for _, p := range []string{"/open311/v2/requests.xml", "/open311/v2/requests.json"} {
			r := e.get(p, all)
			r.want(t, http.StatusOK, p)
			got := requestsOf(t, p, r)
			if len(got) != 5 {
				t.Fatalf("%s: %d requests, want 5: %s", p, len(got), r.body)
			}
			for _, rq := range got {
				if rq.Status != "open" || !w3cDatetime.MatchString(rq.RequestedDatetime) || !w3cDatetime.MatchString(rq.UpdatedDatetime) ||
					!strings.HasSuffix(rq.RequestedDatetime, "+08:00") || rq.Lat == 0 || rq.Long == 0 || rq.AgencyResponsible == "" {
					t.Errorf("%s: request %+v", p, rq)
				}
			}
		}
		ids := func(p string, q url.Values) []string {
			var out []string
			for _, rq := range requestsOf(t, p, e.get(p, q)) {
				out = append(out, rq.ServiceRequestID)
			}
			return out
		}
		if got := ids("/open311/v2/requests.xml", form(all, "service_code", "POT")); len(got) != 2 {
			t.Errorf("service_code=POT: %v", got)
		}
		if got := ids("/open311/v2/requests.xml", form(all, "service_code", "SR-002")); len(got) != 0 {
			t.Errorf("service_code=SR-002: %v", got)
		}
		r := e.get("/open311/v2/requests.xml", form(all, "service_code", "SR-002"))
		if !strings.Contains(string(r.body), "<service_requests></service_requests>") {
			t.Errorf("an empty list in XML: %s", r.body)
		}
		if r := e.get("/open311/v2/requests.json", form(all, "service_code", "SR-002")); strings.TrimSpace(string(r.body)) != "[]" {
			t.Errorf("an empty list in JSON: %s", r.body)
		}
		if got := ids("/open311/v2/requests.json", form(all, "service_request_id", first+","+second, "service_code", "BIN")); len(got) != 2 {
			t.Errorf("service_request_id overrides the other filters: %v", got)
		}
		if got := ids("/open311/v2/requests.json", form(all, "status", "closed")); len(got) != 0 {
			t.Errorf("status=closed: %v", got)
		}
		if got := ids("/open311/v2/requests.json", form(all, "status", "open, closed")); len(got) != 5 {
			t.Errorf("status=open,closed: %v", got)
		}
		future := time.Now().Add(time.Hour).Format(time.RFC3339)
		if got := ids("/open311/v2/requests.json", form(all, "start_date", future)); len(got) != 0 {
			t.Errorf("start_date in the future: %v", got)
		}
		past := time.Now().Add(-time.Hour).In(time.FixedZone("", -5*3600)).Format(time.RFC3339)
		if got := ids("/open311/v2/requests.json", form(all, "start_date", past, "end_date", future)); len(got) != 5 {
			t.Errorf("a date range in another zone: %v", got)
		}
		for _, bad := range []url.Values{form(all, "start_date", "9th Feb 2012"), form(all, "end_date", "2014-01-01T12:00:00"),
			form(all, "status", "zibble"), form(all, "status", "open,zibble")} {
			errorsOf(t, "/open311/v2/requests.xml", e.get("/open311/v2/requests.xml", bad), http.StatusBadRequest, "")
		}
		errorsOf(t, "/open311/v2/requests.xml", e.get("/open311/v2/requests.xml", nil), http.StatusForbidden, "api_key")
	})

	t.Run("one request", func(t *testing.T) { // endpoint.t: GET /requests/0.xml; the spec's 404
		for _, p := range []string{"/open311/v2/requests/" + first + ".xml", "/open311/v2/requests/" + first + ".json"} {
			r := e.get(p, url.Values{"api_key": {key}})
			r.want(t, http.StatusOK, p)
			got := requestsOf(t, p, r)
			if len(got) != 1 || got[0].ServiceRequestID != first || got[0].ServiceCode != "POT" || got[0].ServiceName != "道路坑洼" ||
				got[0].Description != "路面塌陷一处" || got[0].Address != "22 Acacia Avenue" || got[0].AgencyResponsible != "甲街道" ||
				!strings.Contains(got[0].StatusNotes, "Received") {
				t.Errorf("%s: %s", p, r.body)
			}
		}
		errorsOf(t, "/open311/v2/requests/nope.xml", e.get("/open311/v2/requests/nope.xml", url.Values{"api_key": {key}}),
			http.StatusNotFound, "not found")
		// Another client reads none of this client's requests.
		other := e.key("seeclickfix", nil, nil, 0, 0)
		errorsOf(t, "/open311/v2/requests/"+first+".json", e.get("/open311/v2/requests/"+first+".json", url.Values{"api_key": {other}}),
			http.StatusNotFound, "not found")
		if got := requestsOf(t, ".json", e.get("/open311/v2/requests.json", url.Values{"api_key": {other}})); len(got) != 0 {
			t.Errorf("another client lists %d requests", len(got))
		}
	})

	t.Run("token", func(t *testing.T) { // the spec's GET tokens/{token}
		r := e.get("/open311/v2/tokens/"+first+".xml", url.Values{"api_key": {key}})
		r.want(t, http.StatusOK, ".xml")
		got := requestsOf(t, ".xml", r)
		if len(got) != 1 || got[0].ServiceRequestID != first || got[0].Token != first {
			t.Errorf("token: %s", r.body)
		}
		errorsOf(t, ".json", e.get("/open311/v2/tokens/nope.json", url.Values{"api_key": {key}}), http.StatusNotFound, "not found")
	})

	t.Run("open with its agency, then closed", func(t *testing.T) {
		ctx := context.Background()
		in, err := e.store.Incident(ctx, store.Everything, first)
		if err != nil {
			t.Fatal(err)
		}
		it, _ := e.jur.Item("POT")
		now := time.Now().UTC()
		due := now.Add(72 * time.Hour)
		started := incident.New(in.Report(), it.Snapshot(), now,
			incident.DueFunc(func(k incident.SLAKind, from time.Time) time.Time { return due }))
		started.Version = 1
		if err := e.store.Project(ctx, started); err != nil {
			t.Fatal(err)
		}
		p := "/open311/v2/requests/" + first + ".xml"
		got := requestsOf(t, p, e.get(p, url.Values{"api_key": {key}}))
		if got[0].Status != "open" || got[0].AgencyResponsible != "区住建委" ||
			got[0].ExpectedDatetime != due.In(e.jur.Location()).Truncate(time.Second).Format(time.RFC3339) ||
			!strings.Contains(got[0].StatusNotes, "With the responsible departments") {
			t.Errorf("dispatched: %+v", got[0])
		}
		closed := started.Clone()
		closed.Status, closed.ClosedAt, closed.Version, closed.UpdatedAt = incident.StatusClosed, &now, 2, now
		if err := e.store.Project(ctx, closed); err != nil {
			t.Fatal(err)
		}
		p = "/open311/v2/requests/" + first + ".json"
		got = requestsOf(t, p, e.get(p, url.Values{"api_key": {key}}))
		if got[0].Status != "closed" || got[0].UpdatedDatetime != now.In(e.jur.Location()).Truncate(time.Second).Format(time.RFC3339) {
			t.Errorf("closed: %+v", got[0])
		}
		if ids := requestsOf(t, ".json", e.get("/open311/v2/requests.json", url.Values{"api_key": {key}, "status": {"closed"}})); len(ids) != 1 {
			t.Errorf("status=closed lists %d", len(ids))
		}
	})

	t.Run("updates", func(t *testing.T) { // mySociety's servicerequestupdates, which FixMyStreet polls
		ctx := context.Background()
		in, err := e.store.Incident(ctx, store.Everything, second)
		if err != nil {
			t.Fatal(err)
		}
		it, _ := e.jur.Item("POT")
		start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		rules := incident.DueFunc(func(_ incident.SLAKind, from time.Time) time.Time { return from.Add(72 * time.Hour) })
		at := start
		live := incident.New(in.Report(), it.Snapshot(), at, rules)
		project := func() {
			t.Helper()
			if err := e.store.Project(ctx, live.Clone()); err != nil {
				t.Fatal(err)
			}
		}
		live.Version = 1
		project()
		apply := func(a incident.Actor, cmd incident.Command) {
			t.Helper()
			at = at.Add(time.Minute)
			if err := live.Apply(a, cmd, at, rules); err != nil {
				t.Fatalf("%s: %v", cmd.Name(), err)
			}
			project()
		}
		for _, tk := range live.Tasks {
			apply(incident.Actor{Sub: "clerk", Role: incident.RoleDepartment, Org: tk.Department}, incident.Ack{TaskID: tk.ID})
		}
		for _, tk := range live.Tasks {
			apply(incident.Actor{Sub: "clerk", Role: incident.RoleDepartment, Org: tk.Department}, incident.Complete{TaskID: tk.ID, Result: "已填补"})
		}
		street := incident.Actor{Sub: "officer", Role: incident.RoleStreet, Org: "B"}
		apply(street, incident.Verify{Passed: true})
		apply(street, incident.GiveFeedback{Resolved: true, Rating: incident.RatingSatisfied})

		q := url.Values{"api_key": {key}, "start_date": {start.Add(-time.Second).Format(time.RFC3339)}}
		type update struct {
			UpdateID         string `xml:"update_id" json:"update_id"`
			ServiceRequestID string `xml:"service_request_id" json:"service_request_id"`
			Status           string `xml:"status" json:"status"`
			Updated          string `xml:"updated_datetime" json:"updated_datetime"`
			Description      string `xml:"description" json:"description"`
		}
		for _, p := range []string{"/open311/v2/servicerequestupdates.xml", "/open311/v2/servicerequestupdates.json"} {
			r := e.get(p, q)
			r.want(t, http.StatusOK, p)
			var got []update
			if strings.HasSuffix(p, ".xml") {
				var doc struct {
					XMLName xml.Name `xml:"service_request_updates"`
					Updates []update `xml:"request_update"`
				}
				if err := xml.Unmarshal(r.body, &doc); err != nil {
					t.Fatal(err)
				}
				got = doc.Updates
			} else if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			var statuses []string
			var mine []update
			for _, u := range got {
				if !strings.HasPrefix(u.UpdateID, u.ServiceRequestID+"-") || !w3cDatetime.MatchString(u.Updated) {
					t.Errorf("%s: update %+v", p, u)
				}
				if u.ServiceRequestID == second {
					statuses, mine = append(statuses, u.Status), append(mine, u)
				}
			}
			got = mine
			want := "action_scheduled in_progress in_progress in_progress in_progress fixed closed"
			if strings.Join(statuses, " ") != want {
				t.Errorf("%s: statuses %v, want %s", p, statuses, want)
			}
			if len(got) > 3 && !strings.Contains(got[3].Description, "已填补") {
				t.Errorf("%s: a completion says %q, want its result", p, got[3].Description)
			}
		}
		// Another client sees none of them; a bad date is a 400.
		other := e.key("updates-other", nil, nil, 0, 0)
		if r := e.get("/open311/v2/servicerequestupdates.json", url.Values{"api_key": {other}, "start_date": q["start_date"]}); strings.TrimSpace(string(r.body)) != "[]" {
			t.Errorf("another client's updates: %s", r.body)
		}
		errorsOf(t, ".xml", e.get("/open311/v2/servicerequestupdates.xml", form(q, "end_date", "yesterday")), http.StatusBadRequest, "end_date")
		errorsOf(t, ".xml", e.get("/open311/v2/servicerequestupdates.xml", nil), http.StatusForbidden, "api_key")
	})

	t.Run("discovery", func(t *testing.T) { // the spec's Service Discovery
		r := e.get("/open311/discovery.json", nil)
		r.want(t, http.StatusOK, ".json")
		var d struct {
			Changeset, Contact, KeyService string `json:"-"`
			Endpoints                      []struct {
				Specification, URL, Changeset, Type string
				Formats                             []string
			} `json:"endpoints"`
		}
		if err := json.Unmarshal(r.body, &d); err != nil || len(d.Endpoints) != 1 {
			t.Fatalf("discovery.json: %v %s", err, r.body)
		}
		var m map[string]any
		_ = json.Unmarshal(r.body, &m)
		for _, f := range []string{"changeset", "contact", "key_service"} {
			if s, _ := m[f].(string); s == "" {
				t.Errorf("discovery.json has no %s", f)
			}
		}
		ep := d.Endpoints[0]
		if ep.Specification != open311.Specification || ep.URL != e.url+"/open311/v2" || ep.Type != "production" ||
			strings.Join(ep.Formats, ",") != "text/xml,application/json" {
			t.Errorf("endpoint %+v", ep)
		}
		r = e.get("/open311/discovery.xml", nil)
		r.want(t, http.StatusOK, ".xml")
		var x struct {
			XMLName   xml.Name `xml:"discovery"`
			Changeset string   `xml:"changeset"`
			Endpoints []struct {
				URL     string   `xml:"url"`
				Formats []string `xml:"formats>format"`
			} `xml:"endpoints>endpoint"`
		}
		if err := xml.Unmarshal(r.body, &x); err != nil || x.Changeset == "" || len(x.Endpoints) != 1 || len(x.Endpoints[0].Formats) != 2 {
			t.Errorf("discovery.xml: %v %s", err, r.body)
		}
	})

	t.Run("paths and jurisdictions", func(t *testing.T) {
		for _, p := range []string{"/open311/v2/services", "/open311/v2/services.html"} {
			if r := e.get(p, nil); r.status != http.StatusNotFound || !strings.HasPrefix(r.ctype, "text/plain") {
				t.Errorf("%s: %d %s", p, r.status, r.ctype)
			}
		}
		errorsOf(t, ".json", e.get("/open311/v2/widgets.json", nil), http.StatusNotFound, "no such")
		if r := e.get("/open311/v2/services.json", url.Values{"jurisdiction_id": {"td"}}); r.status != http.StatusOK {
			t.Errorf("our jurisdiction_id: %d", r.status)
		}
		errorsOf(t, ".xml", e.get("/open311/v2/services.xml", url.Values{"jurisdiction_id": {"city.gov"}}), http.StatusNotFound, "city.gov")
		res, err := http.Post(e.url+"/open311/v2/services.json", "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := read(t, res); r.status != http.StatusMethodNotAllowed {
			t.Errorf("POST services: %d", r.status)
		}
	})
}

// TestClientLimits: a key limited to streets and items, its rate and its
// body limit, and a revoked key.
func TestClientLimits(t *testing.T) {
	e := newEnv(t)
	p := "/open311/v2/requests.json"
	narrow := e.key("street-a-bins", []string{"A"}, []string{"BIN"}, 0, 0)
	errorsOf(t, p, e.post(p, form(inB, "api_key", narrow, "service_code", "BIN")), http.StatusForbidden, "may not report in street B")
	errorsOf(t, p, e.post(p, form(inA, "api_key", narrow, "service_code", "POT", "attribute[depth]", "3")), http.StatusForbidden,
		"may not report service POT")
	e.post(p, form(inA, "api_key", narrow, "service_code", "BIN")).want(t, http.StatusOK, p)
	var list []map[string]any
	_ = json.Unmarshal(e.get("/open311/v2/services.json", url.Values{"api_key": {narrow}}).body, &list)
	if len(list) != 1 || list[0]["service_code"] != "BIN" {
		t.Errorf("a key's services: %v", list)
	}

	slow := e.key("slow", nil, nil, 10, 0) // a burst of one
	q := url.Values{"api_key": {slow}}
	e.get("/open311/v2/requests.json", q).want(t, http.StatusOK, ".json")
	errorsOf(t, ".json", e.get("/open311/v2/requests.json", q), http.StatusTooManyRequests, "rate limit of 10 requests a minute")

	small := e.key("small", nil, nil, 0, 1024)
	errorsOf(t, p, e.post(p, form(inA, "api_key", small, "service_code", "BIN", "description", strings.Repeat("长", 400))),
		http.StatusRequestEntityTooLarge, "limit of 1024 bytes")

	ks, err := e.store.Open311Keys(context.Background(), store.Everything)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Client == "small" {
			if _, err := e.store.RevokeOpen311Key(context.Background(), store.Everything, k.ID, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	errorsOf(t, p, e.post(p, form(inA, "api_key", small, "service_code", "BIN")), http.StatusForbidden, "invalid api_key")
	if n := e.count(); n != 1 {
		t.Errorf("%d incidents, want 1", n)
	}
}

func (e *env) count() int {
	e.t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM incidents`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// jsonBool reads a JSON boolean (the spec's) or the string "true"/"false"
// (the adapter's) as the word.
func jsonBool(t *testing.T, v any) string {
	t.Helper()
	switch b := v.(type) {
	case bool:
		if b {
			return "true"
		}
		return "false"
	case string:
		return b
	}
	t.Errorf("%v is not a boolean", v)
	return ""
}

// TestDispatchUnavailable: when the report cannot be queued for dispatch,
// the client is told to retry (503 with Retry-After) and nothing is left
// behind; the retry, once dispatch is back, makes one incident.
func TestDispatchUnavailable(t *testing.T) {
	e := newEnvWith(t, false)
	key := e.key("fixmystreet", nil, nil, 0, 0)
	f := form(inA, "api_key", key, "service_code", "BIN", "description", "垃圾桶满了")
	res, err := http.PostForm(e.url+"/open311/v2/requests.xml", f)
	if err != nil {
		t.Fatal(err)
	}
	r := read(t, res)
	errorsOf(t, ".xml", r, http.StatusServiceUnavailable, "retry")
	if res.Header.Get("Retry-After") == "" {
		t.Error("a 503 without Retry-After")
	}
	if n := e.count(); n != 0 {
		t.Fatalf("%d incidents left behind by a failed dispatch", n)
	}
	if err := e.bus.EnsureStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := requestsOf(t, ".json", e.post("/open311/v2/requests.json", f))
	if len(got) != 1 || got[0].ServiceRequestID == "" || e.count() != 1 {
		t.Fatalf("the retry: %v, %d incidents", got, e.count())
	}
}
