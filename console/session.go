package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/whistle-city/whistle/auth"
	"github.com/whistle-city/whistle/incident"
)

// Cookie names.
const (
	sessionCookie = "whistle_session" // the signed-in person's token (HttpOnly)
	loginCookie   = "whistle_login"   // the CSRF secret of the sign-in form
	langCookie    = "whistle_lang"    // "zh" or "en"
)

// csrfField is the form field, and csrfHeader the header htmx sends, with
// the CSRF token.
const (
	csrfField  = "_csrf"
	csrfHeader = "X-CSRF-Token"
)

// session is the signed-in person of a request.
type session struct {
	actor incident.Actor
	token string
	csrf  string
	lang  string
}

// Actor is who is signed in.
func (s *session) Actor() incident.Actor { return s.actor }

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// homeOf is where each role lands after signing in.
func homeOf(r incident.Role) string {
	switch r {
	case incident.RoleGridWorker:
		return "/c/report"
	case incident.RoleStreet:
		return "/c/board"
	case incident.RoleDepartment:
		return "/c/inbox"
	case incident.RoleDistrict:
		return "/c/league"
	default:
		return "/c/catalogue"
	}
}

// csrfFor derives the session's CSRF token from its token: it needs no
// storage, changes with every sign-in and cannot be computed without the
// secret.
func (con *Console) csrfFor(token string) string {
	m := hmac.New(sha256.New, con.cfg.Secret)
	m.Write([]byte("whistle console csrf\x00" + token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

// signedIn returns the session of r, or nil when r carries no valid token.
func (con *Console) signedIn(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	a, err := auth.Parse(con.cfg.Secret, c.Value)
	if err != nil {
		return nil
	}
	return &session{actor: a, token: c.Value, csrf: con.csrfFor(c.Value), lang: langOf(r)}
}

// page wraps a handler of a page or fragment: it requires a session (else
// to /login, or 401 for htmx and event requests) held by one of roles
// (none: any role).
func (con *Console) page(h http.HandlerFunc, roles ...incident.Role) http.Handler {
	return con.guard(h, false, roles)
}

// action wraps a state-changing handler: a page whose request must also
// come from this origin and carry the session's CSRF token.
func (con *Console) action(h http.HandlerFunc, roles ...incident.Role) http.Handler {
	return con.guard(h, true, roles)
}

func (con *Console) guard(h http.HandlerFunc, csrf bool, roles []incident.Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := con.signedIn(r)
		if s == nil {
			con.toLogin(w, r)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
		switch {
		case csrf && (!sameOrigin(r) || !validCSRF(r, s.csrf)):
			con.fail(w, r, http.StatusForbidden, tr(s.lang, "页面已过期或来自别处：请刷新后再试。"))
		case len(roles) > 0 && !slices.Contains(roles, s.actor.Role):
			con.fail(w, r, http.StatusForbidden, tr(s.lang, "您的角色不能使用此页面。"))
		default:
			h(w, r)
		}
	})
}

// sessionOr returns the session of r, or a session of nobody in the
// visitor's language (for pages shown before or without signing in).
func sessionOr(r *http.Request) *session {
	if s := sessionFrom(r.Context()); s != nil {
		return s
	}
	return &session{lang: langOf(r)}
}

func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether a POST comes from a page of this host: its
// Origin (or, without one, its Referer) names this host; a request with
// neither (not from a browser) passes, the CSRF token still guards it.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// toLogin sends a visitor without a session to the sign-in form; an htmx
// request is told to load it as a whole page.
func (con *Console) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("HX-Redirect", "/login")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Error(w, "sign in first: /login", http.StatusUnauthorized)
}

func (con *Console) home(w http.ResponseWriter, r *http.Request) {
	s := con.signedIn(r)
	if s == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, homeOf(s.actor.Role), http.StatusSeeOther)
}

type loginView struct {
	CSRF  string
	Error string
}

// loginForm shows the sign-in form with a fresh CSRF secret kept in a
// short-lived cookie (the form's own double-submit token).
func (con *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if s := con.signedIn(r); s != nil {
		http.Redirect(w, r, homeOf(s.actor.Role), http.StatusSeeOther)
		return
	}
	con.renderLogin(w, r, http.StatusOK, "")
}

func (con *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: secret, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 3600})
	con.render(w, r, status, "login", &session{lang: langOf(r)}, loginView{CSRF: secret, Error: msg})
}

// login checks the token of the form and keeps it in the session cookie
// until it expires.
func (con *Console) login(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r)
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		con.renderLogin(w, r, http.StatusForbidden, tr(lang, "登录表单已过期，请再试一次。"))
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	token = strings.TrimPrefix(token, "Bearer ")
	claims, err := auth.ParseClaims(con.cfg.Secret, token)
	if err != nil {
		con.renderLogin(w, r, http.StatusUnauthorized, tr(lang, "令牌无效或已过期：请用 whistle token 重新生成。"))
		return
	}
	if claims.Role == incident.RoleIntake {
		// A system's token (the hotline, an app) reports through the API;
		// no page of the console is for it.
		con.renderLogin(w, r, http.StatusForbidden, tr(lang, "这是接入系统（intake）的令牌，只能调用接口，不能登录控制台。"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, Expires: claims.ExpiresAt.Time})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1})
	con.log.Info("signed in", "actor", claims.Actor().String())
	http.Redirect(w, r, homeOf(claims.Role), http.StatusSeeOther)
}

// logout ends the session: the cookie is cleared.
func (con *Console) logout(w http.ResponseWriter, r *http.Request) {
	if s := con.signedIn(r); s != nil && (!sameOrigin(r) || !validCSRF(r, s.csrf)) {
		http.Error(w, "bad CSRF token", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// setLang switches the console's language and goes back where it was.
func (con *Console) setLang(w http.ResponseWriter, r *http.Request) {
	to := "zh"
	if r.PostFormValue("to") == "en" {
		to = "en"
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: to, Path: "/", SameSite: http.SameSiteStrictMode,
		MaxAge: 365 * 24 * 3600})
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") {
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func langOf(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && c.Value == "en" {
		return "en"
	}
	return "zh"
}
