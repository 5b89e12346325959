package console

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whistle-city/whistle/incident"
)

// field is one input of a command's form, read from the command type's
// JSON fields.
type field struct {
	Name  string // JSON name, the form field's name
	Label string // Chinese label (translated by the template)
	Kind  string // text, textarea, bool, int, datetime, rating, departments, department
	// Required is set for a field the command cannot do without (its JSON
	// name has no omitempty): the browser asks for it before sending.
	Required bool
}

// actionForm is a command the person may send now, with its form.
type actionForm struct {
	Name   string // the command's name (incident.CommandNamed)
	Label  string
	Target string // incident or task id
	TaskID string // the task it acts on, "" for the incident
	Fields []field
}

// fieldLabels name the commands' fields in the forms.
var fieldLabels = map[string]string{
	"note": "备注", "result": "处置结果", "reason": "理由", "passed": "核查通过", "resolved": "问题已解决",
	"rating": "满意度", "comment": "群众意见", "score": "评分 (0–100)", "departments": "部门（第一个为牵头）",
	"department": "改派给", "until": "延期至", "approve": "同意", "review_at": "复核时间", "enforcement": "执法调度",
}

// commandLabels name the commands on their buttons.
var commandLabels = map[string]string{
	"verify": "核查", "feedback": "回访", "rate": "考核评分", "return": "退单", "reassign": "改派",
	"overrule": "驳回退单", "refer": "提交区裁定", "extension": "申请延期", "extension_decision": "审批延期",
	"resolve": "办结", "escalate": "上报街道", "whistle": "吹哨", "urge": "催办", "note": "备注",
	"suspend": "挂账", "resume": "恢复", "ack": "报到", "complete": "办结任务",
}

// formFields lists the inputs of command type c: every JSON field but the
// task id (which the form's target gives).
func formFields(c incident.Command) []field {
	t := reflect.TypeOf(c)
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || name == "task_id" {
			continue
		}
		kind := "text"
		switch {
		case f.Type == reflect.TypeFor[time.Time]():
			kind = "datetime"
		case f.Type == reflect.TypeFor[incident.Rating]():
			kind = "rating"
		case f.Type.Kind() == reflect.Bool:
			kind = "bool"
		case f.Type.Kind() == reflect.Int:
			kind = "int"
		case f.Type.Kind() == reflect.Slice:
			kind = "departments"
		case name == "department":
			kind = "department"
		case name == "result" || name == "reason" || name == "comment" || (name == "note" && f.Tag.Get("minLength") != ""):
			kind = "textarea"
		}
		out = append(out, field{Name: name, Label: fieldLabels[name], Kind: kind,
			Required: kind != "bool" && !strings.Contains(opts, "omitempty")})
	}
	return out
}

// actionsFor lists the commands s may send to in now: those of its role
// that the domain's own Check lets through, or refuses only for their
// fields (which the form then asks for). The API decides again when the
// form is sent; this only spares the person buttons that cannot work.
func (con *Console) actionsFor(s *session, in *incident.Incident) []actionForm {
	var out []actionForm
	now := con.now()
	offer := func(c incident.Command) bool {
		err := in.Check(s.actor, c, now)
		var e *incident.Error
		return err == nil || (errors.As(err, &e) && e.Code == incident.CodeInvalid)
	}
	for _, c := range incident.Commands {
		d := c.Doc()
		if !slices.Contains(d.Roles, s.actor.Role) {
			continue
		}
		if !d.OnTask {
			if offer(c) {
				out = append(out, actionForm{Name: c.Name(), Label: commandLabels[c.Name()], Target: in.ID, Fields: formFields(c)})
			}
			continue
		}
		for _, t := range in.Tasks {
			tc, err := incident.Decode(c, nil, t.ID)
			if err != nil || !offer(tc) {
				continue
			}
			out = append(out, actionForm{Name: c.Name(), Label: commandLabels[c.Name()], Target: t.ID, TaskID: t.ID, Fields: formFields(c)})
		}
	}
	return out
}

// command sends one command from its form: the form's fields become the
// command's JSON body (typed by the command's own fields), sent to the
// command's API route. Success reloads the page; a refusal is shown in
// words and nothing changed.
func (con *Console) command(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	c, ok := incident.CommandNamed(r.PathValue("name"))
	if !ok {
		con.flash(w, r, http.StatusNotFound, "", tr(s.lang, "没有这个操作。"))
		return
	}
	if err := r.ParseForm(); err != nil {
		con.flash(w, r, http.StatusBadRequest, "", err.Error())
		return
	}
	body, err := con.formBody(c, r.PostForm)
	if err != nil {
		con.flash(w, r, http.StatusUnprocessableEntity, "", tr(s.lang, "输入有误，请修改后重试。")+" "+err.Error())
		return
	}
	path := strings.Replace(incident.Route(c), "{id}", url.PathEscape(r.PathValue("id")), 1)
	if err := con.call(r, http.MethodPost, path, body, nil); err != nil {
		con.flash(w, r, statusOf(err), "", words(s.lang, err))
		return
	}
	w.Header().Set("HX-Refresh", "true")
	con.flash(w, r, http.StatusOK, tr(s.lang, "已提交。"), "")
}

// formBody turns a command's form into its JSON body.
func (con *Console) formBody(c incident.Command, form url.Values) (map[string]any, error) {
	loc := con.cfg.Jurisdiction().Location()
	body := map[string]any{}
	for _, f := range formFields(c) {
		vals := form[f.Name]
		v := strings.TrimSpace(form.Get(f.Name))
		switch f.Kind {
		case "bool":
			body[f.Name] = v == "true" || v == "on" || v == "1"
		case "int":
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, errors.New(f.Name + ": " + v)
			}
			body[f.Name] = n
		case "datetime":
			if v == "" {
				continue
			}
			t, err := time.ParseInLocation("2006-01-02T15:04", v, loc)
			if err != nil {
				return nil, errors.New(f.Name + ": " + v)
			}
			body[f.Name] = t
		case "departments":
			var ds []string
			for _, x := range vals {
				for _, d := range strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == ' ' }) {
					ds = append(ds, d)
				}
			}
			if len(ds) > 0 {
				body[f.Name] = ds
			}
		default:
			if v != "" {
				body[f.Name] = v
			}
		}
	}
	return body, nil
}
