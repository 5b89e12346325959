package open311

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
)

// The documents of GeoReport v2, each as the spec writes it in XML and in
// JSON. In JSON a list is the array itself (the XML wrapper is dropped) and
// booleans are JSON booleans; in XML an empty value is an empty element.

// Service is one service of GET services: an item of the responsibility
// list.
type Service struct {
	XMLName     xml.Name `xml:"service" json:"-"`
	ServiceCode string   `xml:"service_code" json:"service_code"`
	ServiceName string   `xml:"service_name" json:"service_name"`
	Description string   `xml:"description" json:"description"`
	Metadata    bool     `xml:"metadata" json:"metadata"`
	Type        string   `xml:"type" json:"type"`
	Keywords    string   `xml:"keywords" json:"keywords"`
	Group       string   `xml:"group" json:"group"`
}

type services struct {
	XMLName xml.Name  `xml:"services"`
	Items   []Service `xml:"service"`
}

// ServiceDefinition is GET services/{service_code}: the attributes a
// request of the service carries.
type ServiceDefinition struct {
	XMLName     xml.Name    `xml:"service_definition" json:"-"`
	ServiceCode string      `xml:"service_code" json:"service_code"`
	Attributes  []Attribute `xml:"attributes>attribute" json:"attributes"`
}

// Attribute is one attribute of a service definition.
type Attribute struct {
	Variable            bool    `xml:"variable" json:"variable"`
	Code                string  `xml:"code" json:"code"`
	Datatype            string  `xml:"datatype" json:"datatype"`
	Required            bool    `xml:"required" json:"required"`
	DatatypeDescription string  `xml:"datatype_description" json:"datatype_description"`
	Order               int     `xml:"order" json:"order"`
	Description         string  `xml:"description" json:"description"`
	Values              []Value `xml:"values>value,omitempty" json:"values,omitempty"`
}

// Value is one value of a list attribute.
type Value struct {
	Key  string `xml:"key" json:"key"`
	Name string `xml:"name" json:"name"`
}

// Request is one service request of GET requests: an incident.
type Request struct {
	XMLName           xml.Name `xml:"request" json:"-"`
	ServiceRequestID  string   `xml:"service_request_id" json:"service_request_id"`
	Status            string   `xml:"status" json:"status"`
	StatusNotes       string   `xml:"status_notes" json:"status_notes"`
	ServiceName       string   `xml:"service_name" json:"service_name"`
	ServiceCode       string   `xml:"service_code" json:"service_code"`
	Description       string   `xml:"description" json:"description"`
	AgencyResponsible string   `xml:"agency_responsible" json:"agency_responsible"`
	ServiceNotice     string   `xml:"service_notice" json:"service_notice"`
	RequestedDatetime string   `xml:"requested_datetime" json:"requested_datetime"`
	UpdatedDatetime   string   `xml:"updated_datetime" json:"updated_datetime"`
	ExpectedDatetime  string   `xml:"expected_datetime" json:"expected_datetime"`
	Address           string   `xml:"address" json:"address"`
	AddressID         string   `xml:"address_id" json:"address_id"`
	Zipcode           string   `xml:"zipcode" json:"zipcode"`
	Lat               float64  `xml:"lat" json:"lat"`
	Long              float64  `xml:"long" json:"long"`
	MediaURL          string   `xml:"media_url" json:"media_url"`
}

type requests struct {
	XMLName xml.Name `xml:"service_requests"`
	Items   any      `xml:"request"`
}

// RequestUpdate is one update of a service request (mySociety's
// servicerequestupdates extension, which FixMyStreet reads): a step of the
// incident a resident would want to know of.
type RequestUpdate struct {
	XMLName          xml.Name `xml:"request_update" json:"-"`
	UpdateID         string   `xml:"update_id" json:"update_id"`
	ServiceRequestID string   `xml:"service_request_id" json:"service_request_id"`
	Status           string   `xml:"status" json:"status"`
	UpdatedDatetime  string   `xml:"updated_datetime" json:"updated_datetime"`
	Description      string   `xml:"description" json:"description"`
	MediaURL         string   `xml:"media_url" json:"media_url"`
}

type requestUpdates struct {
	XMLName xml.Name        `xml:"service_request_updates"`
	Items   []RequestUpdate `xml:"request_update"`
}

// Created is the answer to POST requests (and GET tokens/{token}).
type Created struct {
	XMLName          xml.Name `xml:"request" json:"-"`
	ServiceRequestID string   `xml:"service_request_id" json:"service_request_id"`
	Token            string   `xml:"token,omitempty" json:"token,omitempty"`
	ServiceNotice    string   `xml:"service_notice,omitempty" json:"service_notice,omitempty"`
	AccountID        string   `xml:"account_id,omitempty" json:"account_id,omitempty"`
}

// Discovery is the discovery document (/open311/discovery.{json,xml}).
type Discovery struct {
	XMLName    xml.Name   `xml:"discovery" json:"-"`
	Changeset  string     `xml:"changeset" json:"changeset"`
	Contact    string     `xml:"contact" json:"contact"`
	KeyService string     `xml:"key_service" json:"key_service"`
	Endpoints  []Endpoint `xml:"endpoints>endpoint" json:"endpoints"`
}

// Endpoint is one endpoint of the discovery document.
type Endpoint struct {
	Specification string   `xml:"specification" json:"specification"`
	URL           string   `xml:"url" json:"url"`
	Changeset     string   `xml:"changeset" json:"changeset"`
	Type          string   `xml:"type" json:"type"`
	Formats       []string `xml:"formats>format" json:"formats"`
}

// Error is one error of an error answer; Code is the HTTP status.
type Error struct {
	XMLName     xml.Name `xml:"error" json:"-"`
	Code        int      `xml:"code" json:"code"`
	Description string   `xml:"description" json:"description"`
}

type errorList struct {
	XMLName xml.Name `xml:"errors"`
	Items   []Error  `xml:"error"`
}

// format is the document format a path asks for by its suffix.
type format string

const (
	formatJSON format = "json"
	formatXML  format = "xml"
)

// write answers doc with status in format f. For XML, doc is the wrapped
// document (services, requests, errorList or a single document); for
// JSON the list inside the wrapper, as the spec's JSON drops it.
func write(w http.ResponseWriter, f format, status int, doc any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if f == formatXML {
		h.Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, xml.Header[:len(xml.Header)-1]+"\n")
		enc := xml.NewEncoder(w)
		enc.Indent("", "  ")
		_ = enc.Encode(doc)
		_, _ = io.WriteString(w, "\n")
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(unwrap(doc))
}

// unwrap returns the JSON form of an XML document: a list's items.
func unwrap(doc any) any {
	switch d := doc.(type) {
	case services:
		return nonNil(d.Items)
	case requests:
		return d.Items
	case requestUpdates:
		return nonNil(d.Items)
	case errorList:
		return nonNil(d.Items)
	}
	return doc
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// fail answers the errors, one per description, with status: 403 for a
// missing or bad api_key, 404 for what does not exist, 429 and 413 for
// the limits, 400 for anything else (the spec's rules).
func fail(w http.ResponseWriter, f format, status int, descriptions ...string) {
	list := errorList{Items: make([]Error, len(descriptions))}
	for i, d := range descriptions {
		list.Items[i] = Error{Code: status, Description: d}
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(1))
	}
	write(w, f, status, list)
}
