// Package catalogue is the living responsibility list (属地管理事项清单,
// "managed dynamically"): the items of the jurisdiction file plus the
// changes admins make at run time, every version of every item kept in
// Postgres with who, when and why (store.CatalogueVersion).
//
// A Catalogue holds the list in force — the file's organisation with the
// current, non-retired items — as an immutable *jurisdiction.Jurisdiction
// behind an atomic pointer (Current), so readers never lock. Every process
// that shares the database (serve, worker, dev) keeps one: after a write the
// writer reloads at once and publishes a core NATS notice on
// bus.SubjectCatalogueChanged, on which the others reload; every process
// also reloads every ReloadEvery in case a notice was lost. A reload that
// fails (the database is down, an item no longer fits the organisation)
// keeps the last good list and logs.
//
// Incidents are not affected by changes: each keeps a snapshot of its item
// (with the item's version) from when it started.
package catalogue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/whistle-city/whistle/bus"
	"github.com/whistle-city/whistle/incident"
	"github.com/whistle-city/whistle/jurisdiction"
	"github.com/whistle-city/whistle/store"
)

// DefaultReloadEvery is how often a Catalogue reloads the list in case it
// missed a change notice.
const DefaultReloadEvery = 30 * time.Second

// reloadTimeout bounds one reload.
const reloadTimeout = 10 * time.Second

// Version is one version of an item of the list.
type Version struct {
	// Item is the item's content, with Item.Version set to Version. A
	// retired version repeats the content of the version it retired.
	Item    jurisdiction.Item
	Version int
	Retired bool
	// Source is store.CatalogueSourceFile or store.CatalogueSourceAPI.
	Source string
	Actor  string
	Reason string
	At     time.Time
}

// Config is what a Catalogue is built from.
type Config struct {
	// Store keeps the versions (required).
	Store *store.Store
	// File is the jurisdiction file as loaded (required): its organisation
	// is the organisation of the list, and its items are applied to the
	// list at Open (see store.SyncCatalogueFile).
	File *jurisdiction.Jurisdiction
	// FileName names the file in the versions it writes ("jurisdiction file
	// <FileName>").
	FileName string
	// Conn, when not nil, carries the change notices between processes.
	Conn *nats.Conn
	// ReloadEvery is how often the list is reloaded regardless of notices;
	// DefaultReloadEvery when zero.
	ReloadEvery time.Duration
	// Logger receives reload failures; slog.Default() when nil.
	Logger *slog.Logger
}

// Catalogue is the living responsibility list of one process. It is safe
// for concurrent use.
type Catalogue struct {
	cfg    Config
	log    *slog.Logger
	origin string // this process's id in notices, to skip its own

	cur      atomic.Pointer[state]
	reloadMu sync.Mutex // one reload at a time, so a later read is never overwritten by an earlier one

	sub    *nats.Subscription
	cancel context.CancelFunc
	done   chan struct{}
}

// state is one loaded list.
type state struct {
	jur    *jurisdiction.Jurisdiction // the organisation with the current items
	latest map[string]Version         // the latest version of every item, retired ones too
}

// notice is the payload of a change notice.
type notice struct {
	Origin  string `json:"origin"`
	Code    string `json:"code"`
	Version int    `json:"version"`
}

// Open applies the file's items to the stored list (the file is applied
// where it changed: store.SyncCatalogueFile), loads the list in force,
// subscribes to change notices and starts the periodic reload. It fails
// when the list would be invalid under the file's organisation (say an item
// added through the API names a department the file no longer has); then
// nothing is written. Close stops it.
func Open(ctx context.Context, cfg Config) (*Catalogue, error) {
	if cfg.Store == nil || cfg.File == nil {
		return nil, errors.New("catalogue: Store and File are required")
	}
	if cfg.ReloadEvery <= 0 {
		cfg.ReloadEvery = DefaultReloadEvery
	}
	c := &Catalogue{cfg: cfg, log: cfg.Logger, origin: uuid.NewString(), done: make(chan struct{})}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "catalogue")

	items := make([]store.CatalogueFileItem, len(cfg.File.Items))
	for i, it := range cfg.File.Items {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, fmt.Errorf("catalogue: encode item %s: %w", it.Code, err)
		}
		items[i] = store.CatalogueFileItem{Code: it.Code, Body: b}
	}
	written, err := cfg.Store.SyncCatalogueFile(ctx, "jurisdiction file "+cfg.FileName, items, func(latest []store.CatalogueVersion) error {
		_, err := c.build(latest)
		return err
	})
	if err != nil {
		return nil, err
	}
	// One line for the file, the items at debug: a first start writes
	// every item of the list.
	retired := 0
	for _, v := range written {
		c.log.DebugContext(ctx, "catalogue item changed by the jurisdiction file", "item", v.Code, "version", v.Version, "retired", v.Retired)
		if v.Retired {
			retired++
		}
	}
	if len(written) > 0 {
		c.log.InfoContext(ctx, "catalogue: items written from the jurisdiction file", "file", cfg.FileName,
			"written", len(written), "retired", retired)
	}
	if err := c.Reload(ctx); err != nil {
		return nil, err
	}

	if cfg.Conn != nil {
		c.sub, err = cfg.Conn.Subscribe(bus.SubjectCatalogueChanged, c.onNotice)
		if err != nil {
			return nil, fmt.Errorf("catalogue: subscribe to %s: %w", bus.SubjectCatalogueChanged, err)
		}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go c.reloadPeriodically(rctx)
	if len(written) > 0 {
		c.notify(written[len(written)-1])
	}
	return c, nil
}

// Close stops listening for notices and the periodic reload. Current and
// Lookup keep answering with the last list loaded.
func (c *Catalogue) Close() {
	if c.sub != nil {
		_ = c.sub.Unsubscribe()
	}
	if c.cancel != nil {
		c.cancel()
		<-c.done
	}
}

// Current returns the list in force: the file's organisation with the
// current, non-retired items, each with its Version. The value is shared
// and must not be changed.
func (c *Catalogue) Current() *jurisdiction.Jurisdiction { return c.cur.Load().jur }

// Lookup returns the latest version of the item code, retired ones
// included (then Retired is true and At, Actor and Reason say when, by whom
// and why it was retired).
func (c *Catalogue) Lookup(code string) (Version, bool) {
	v, ok := c.cur.Load().latest[code]
	return v, ok
}

// Item returns the latest content of the item code, retired ones included:
// what the dispatcher starts a report with, so a report accepted just
// before its item was retired still starts.
func (c *Catalogue) Item(code string) (jurisdiction.Item, bool) {
	v, ok := c.Lookup(code)
	return v.Item, ok
}

// History returns every version of the item code, oldest first. An unknown
// code is a CodeNotFound *incident.Error.
func (c *Catalogue) History(ctx context.Context, code string) ([]Version, error) {
	rows, err := c.cfg.Store.CatalogueHistory(ctx, code)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, incident.Errorf(incident.CodeNotFound, "no item %q in the responsibility list", code)
	}
	out := make([]Version, len(rows))
	for i, r := range rows {
		if out[i], err = decode(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Put adds or changes the item it.Code (a new version by actor, for
// reason), after validating it against the list's organisation exactly as
// the jurisdiction file's items are validated. A problem is an
// *InvalidItemError (a CodeInvalid *incident.Error naming the field, such
// as "lead" or "sla.ack"); an empty reason is a CodeInvalid error naming
// "reason". When expected is not nil the item must be at that version (0:
// must not exist yet), else it is a CodeConflict error (see
// store.PutCatalogueItem). A retired item is brought back.
//
// An item identical to the current version writes nothing and answers the
// current version. It returns the version in force afterwards and whether
// the item is new (never had a version). After a write the list is
// reloaded and the other processes are told.
func (c *Catalogue) Put(ctx context.Context, actor string, it jurisdiction.Item, reason string, expected *int) (v Version, created bool, err error) {
	if strings.TrimSpace(reason) == "" {
		return Version{}, false, incident.Invalid("reason", "a reason is required: say why the item is added or changed")
	}
	it.Version = 0
	it, err = c.cfg.File.ValidateItem(it)
	if err != nil {
		return Version{}, false, invalidItem(err)
	}
	body, err := json.Marshal(it)
	if err != nil {
		return Version{}, false, fmt.Errorf("catalogue: encode item %s: %w", it.Code, err)
	}
	row, created, written, err := c.cfg.Store.PutCatalogueItem(ctx, it.Code, body, actor, reason, expected)
	if err != nil {
		return Version{}, false, err
	}
	if v, err = decode(row); err != nil {
		return Version{}, false, err
	}
	if written {
		c.changed(ctx, row)
	}
	return v, created, nil
}

// Retire retires the item code (a new, retired version by actor, for
// reason): reports of it are refused from then on, incidents already
// started carry on. An unknown code is a CodeNotFound *incident.Error, an
// item already retired a CodeConflict one, an empty reason a CodeInvalid
// one naming "reason"; expected is as in Put. After the write the list is
// reloaded and the other processes are told.
func (c *Catalogue) Retire(ctx context.Context, actor, code, reason string, expected *int) (Version, error) {
	if strings.TrimSpace(reason) == "" {
		return Version{}, incident.Invalid("reason", "a reason is required: say why the item is retired")
	}
	row, err := c.cfg.Store.RetireCatalogueItem(ctx, code, actor, reason, expected)
	if err != nil {
		return Version{}, err
	}
	v, err := decode(row)
	if err != nil {
		return Version{}, err
	}
	c.changed(ctx, row)
	return v, nil
}

// Reload reads the list from the database and makes it the list in force.
// On error (the database is unreachable, an item does not fit the
// organisation) the list in force stays as it was.
func (c *Catalogue) Reload(ctx context.Context) error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	latest, err := c.cfg.Store.CatalogueLatest(ctx)
	if err != nil {
		return fmt.Errorf("catalogue: reload: %w", err)
	}
	st, err := c.build(latest)
	if err != nil {
		return err
	}
	c.cur.Store(st)
	return nil
}

// build turns the latest versions into a list under the file's
// organisation.
func (c *Catalogue) build(latest []store.CatalogueVersion) (*state, error) {
	st := &state{latest: make(map[string]Version, len(latest))}
	var items []jurisdiction.Item
	var from []store.CatalogueVersion
	for _, row := range latest {
		v, err := decode(row)
		if err != nil {
			return nil, err
		}
		st.latest[row.Code] = v
		if !v.Retired {
			items = append(items, v.Item)
			from = append(from, row)
		}
	}
	j, err := c.cfg.File.WithItems(items)
	if err != nil {
		return nil, describe(err, from)
	}
	st.jur = j
	return st, nil
}

// describe names the items (and their versions) behind the problems of
// WithItems, whose fields are "items[i]…".
func describe(err error, from []store.CatalogueVersion) error {
	var ve *jurisdiction.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	lines := make([]string, len(ve.Problems))
	for k, p := range ve.Problems {
		var i int
		field := p.Field
		if n, _ := fmt.Sscanf(p.Field, "items[%d]", &i); n == 1 && i < len(from) {
			r := from[i]
			field = strings.TrimPrefix(strings.TrimPrefix(p.Field, fmt.Sprintf("items[%d]", i)), ".")
			lines[k] = fmt.Sprintf("item %s version %d (%s, %s): %s: %s", r.Code, r.Version, r.Source, r.Actor, field, p.Message)
			continue
		}
		lines[k] = p.String()
	}
	return fmt.Errorf("catalogue: the responsibility list does not fit the jurisdiction file's organisation "+
		"(change the items through the API or in the file):\n%s", strings.Join(lines, "\n"))
}

// changed reloads after a write of row and tells the other processes.
func (c *Catalogue) changed(ctx context.Context, row store.CatalogueVersion) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reloadTimeout)
	defer cancel()
	if err := c.Reload(rctx); err != nil {
		c.log.ErrorContext(ctx, "reload the catalogue after a change: keeping the list loaded before it", "item", row.Code, "version", row.Version, "err", err)
	}
	c.notify(row)
}

// notify publishes a change notice for row, if there is a connection.
func (c *Catalogue) notify(row store.CatalogueVersion) {
	if c.cfg.Conn == nil {
		return
	}
	b, _ := json.Marshal(notice{Origin: c.origin, Code: row.Code, Version: row.Version})
	if err := c.cfg.Conn.Publish(bus.SubjectCatalogueChanged, b); err != nil {
		c.log.Warn("publish the catalogue change notice: other processes see it at their next periodic reload", "item", row.Code, "err", err)
	}
}

// onNotice reloads on another process's change notice.
func (c *Catalogue) onNotice(m *nats.Msg) {
	var n notice
	if err := json.Unmarshal(m.Data, &n); err == nil && n.Origin == c.origin {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	if err := c.Reload(ctx); err != nil {
		c.log.Error("reload the catalogue on a change notice: keeping the list loaded before it", "item", n.Code, "version", n.Version, "err", err)
	}
}

// reloadPeriodically reloads every ReloadEvery until ctx is done.
func (c *Catalogue) reloadPeriodically(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.cfg.ReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, reloadTimeout)
			if err := c.Reload(rctx); err != nil && ctx.Err() == nil {
				c.log.Error("periodic reload of the catalogue: keeping the list loaded before it", "err", err)
			}
			cancel()
		}
	}
}

// decode turns a stored version into a Version.
func decode(row store.CatalogueVersion) (Version, error) {
	var it jurisdiction.Item
	if err := json.Unmarshal(row.Body, &it); err != nil {
		return Version{}, fmt.Errorf("catalogue: decode item %s version %d: %w", row.Code, row.Version, err)
	}
	it.Version = row.Version
	return Version{Item: it, Version: row.Version, Retired: row.Retired, Source: row.Source,
		Actor: row.Actor, Reason: row.Reason, At: row.At}, nil
}

// InvalidItemError is an item that breaks the rules of the jurisdiction
// file. It wraps a CodeInvalid *incident.Error naming the first offending
// field (errors.As finds it), and keeps every problem found.
type InvalidItemError struct {
	// Problems lists every problem; their fields are relative to the item
	// ("lead", "sla.ack", "cooperating[1]").
	Problems []jurisdiction.Problem
	domain   *incident.Error
}

// Error lists the problems as "field: message", separated by "; ".
func (e *InvalidItemError) Error() string { return e.domain.Message }

// Unwrap returns the CodeInvalid *incident.Error.
func (e *InvalidItemError) Unwrap() error { return e.domain }

// invalidItem turns a validation error of an item into an *InvalidItemError.
func invalidItem(err error) error {
	var ve *jurisdiction.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) == 0 {
		return err
	}
	msgs := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		msgs[i] = p.String()
	}
	return &InvalidItemError{Problems: ve.Problems, domain: incident.Invalid(ve.Problems[0].Field, "%s", strings.Join(msgs, "; "))}
}
