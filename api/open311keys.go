package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// Open311KeyRequest is the body of POST /v1/open311/keys.
type Open311KeyRequest struct {
	Client        string   `json:"client" minLength:"1" maxLength:"64" example:"fixmystreet" doc:"The client's name: letters, digits, '-', '_', '.'. Its reports come in by channel open311:<client>."`
	Streets       []string `json:"streets,omitempty" maxItems:"1000" doc:"Streets the client may report in; everywhere when left out."`
	Items         []string `json:"items,omitempty" maxItems:"1000" doc:"Items of the responsibility list it may report; every item when left out."`
	RatePerMinute int      `json:"rate_per_minute,omitempty" doc:"Requests a minute (default 60)."`
	MaxBodyBytes  int      `json:"max_body_bytes,omitempty" doc:"Largest POST body in bytes (default 65536)."`
}

// NewOpen311Key is a key just created: its record and the key itself,
// shown this once.
type NewOpen311Key struct {
	Key string `json:"key" doc:"The API key, shown only now: Whistle keeps only its SHA-256."`
	store.Open311Key
}

type open311KeyInput struct{ Body Open311KeyRequest }
type newOpen311KeyOutput struct{ Body NewOpen311Key }
type open311KeysOutput struct {
	Body struct {
		Items []store.Open311Key `json:"items"`
	}
}
type open311KeyIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"The key's id (not the key)."`
}
type open311KeyOutput struct{ Body store.Open311Key }

func (s *Server) registerOpen311Keys() {
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "listOpen311Keys", Method: http.MethodGet, Path: "/v1/open311/keys", Tags: []string{"Open311"},
		Summary:     "Open311 API keys",
		Description: "Every Open311 client's keys, revoked ones included (never the keys themselves).",
	}, incident.RoleAdmin, incident.RoleDistrict), s.listOpen311Keys)
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "createOpen311Key", Method: http.MethodPost, Path: "/v1/open311/keys", Tags: []string{"Open311"},
		Summary: "Create an Open311 API key",
		Description: "A new key for an Open311 client, limited to some streets or items if given. The key is in " +
			"the answer only: store it now. `whistle open311-key --client NAME` does the same from the command line.",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnprocessableEntity},
	}, incident.RoleAdmin), s.createOpen311Key)
	huma.Register(s.api, secured(huma.Operation{
		OperationID: "revokeOpen311Key", Method: http.MethodDelete, Path: "/v1/open311/keys/{id}", Tags: []string{"Open311"},
		Summary:     "Revoke an Open311 API key",
		Description: "The key is refused from the next request on. Revoking it again changes nothing.",
		Errors:      []int{http.StatusNotFound},
	}, incident.RoleAdmin), s.revokeOpen311Key)
}

func (s *Server) listOpen311Keys(ctx context.Context, _ *struct{}) (*open311KeysOutput, error) {
	keys, err := s.cfg.Store.Open311Keys(ctx, scopeOf(ctx))
	if err != nil {
		return nil, s.fail(ctx, err, "query", "list the Open311 keys")
	}
	out := &open311KeysOutput{}
	out.Body.Items = keys
	return out, nil
}

func (s *Server) createOpen311Key(ctx context.Context, in *open311KeyInput) (*newOpen311KeyOutput, error) {
	k, err := Open311KeyOf(s.jur(), in.Body)
	if err != nil {
		return nil, err
	}
	k.CreatedBy = actorFrom(ctx).String()
	k, key, err := s.cfg.Store.CreateOpen311Key(ctx, scopeOf(ctx), k)
	if err != nil {
		return nil, s.fail(ctx, err, "body", "create the Open311 key")
	}
	return &newOpen311KeyOutput{Body: NewOpen311Key{Key: key, Open311Key: k}}, nil
}

// Open311KeyOf checks a key request against the jurisdiction j (every
// street and item must exist) and returns the key to create, with the
// default limits where none are given; bad fields are one 422 *Problem,
// each at its body location. POST /v1/open311/keys and whistle
// open311-key both check by it.
func Open311KeyOf(j *jurisdiction.Jurisdiction, b Open311KeyRequest) (store.Open311Key, error) {
	k := store.Open311Key{Client: b.Client, Streets: b.Streets, Items: b.Items,
		RatePerMinute: b.RatePerMinute, MaxBodyBytes: b.MaxBodyBytes}
	if k.RatePerMinute == 0 {
		k.RatePerMinute = store.DefaultOpen311Rate
	}
	if k.MaxBodyBytes == 0 {
		k.MaxBodyBytes = store.DefaultOpen311MaxBody
	}
	var errs []*huma.ErrorDetail
	for i, st := range k.Streets {
		if _, ok := j.Street(st); !ok {
			errs = append(errs, &huma.ErrorDetail{Location: fmt.Sprintf("body.streets[%d]", i), Message: fmt.Sprintf("unknown street %q", st)})
		}
	}
	for i, it := range k.Items {
		if _, ok := j.Item(it); !ok {
			errs = append(errs, &huma.ErrorDetail{Location: fmt.Sprintf("body.items[%d]", i), Message: fmt.Sprintf("unknown item %q", it)})
		}
	}
	var de *incident.Error
	if err := k.Validate(); errors.As(err, &de) {
		errs = append(errs, &huma.ErrorDetail{Location: "body." + de.Field, Message: de.Message})
	}
	if len(errs) > 0 {
		p := newProblem(http.StatusUnprocessableEntity, "%s", summarize(errs))
		p.Errors = errs
		return store.Open311Key{}, p
	}
	return k, nil
}

func (s *Server) revokeOpen311Key(ctx context.Context, in *open311KeyIDInput) (*open311KeyOutput, error) {
	k, err := s.cfg.Store.RevokeOpen311Key(ctx, scopeOf(ctx), in.ID, actorFrom(ctx).String())
	if err != nil {
		return nil, s.fail(ctx, err, "path", "revoke the Open311 key")
	}
	return &open311KeyOutput{Body: k}, nil
}
