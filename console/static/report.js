// The grid worker's report form, for a phone on a bad connection: the
// draft survives a reload (kept in this browser, never the token), and a
// failed send is retried with the same Idempotency-Key, so a lost answer
// never makes a second incident. The key is renewed only once the server
// has answered.
(function () {
  "use strict";
  var form = document.getElementById("report");
  if (!form) return;
  var KEY = "whistle.draft." + form.dataset.grid;
  var status = document.getElementById("report-status");
  var send = document.getElementById("send");
  var words = {};
  document.getElementById("report-words").content.querySelectorAll("[data-k]").forEach(function (s) {
    words[s.dataset.k] = s.textContent;
  });
  var fields = ["category", "description", "lat", "lng", "address", "photos"];
  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }
  function save(d) { try { localStorage.setItem(KEY, JSON.stringify(d)); } catch (e) { /* full or private */ } }
  // The chosen item's attributes: its fieldset shows, the others hide.
  function attrsOf(code) { return form.querySelector('fieldset.attrs[data-item="' + code + '"]'); }
  function showAttrs() {
    form.querySelectorAll("fieldset.attrs").forEach(function (f) { f.hidden = f.dataset.item !== form.elements.category.value; });
  }
  function answers() {
    var out = {}, f = attrsOf(form.elements.category.value);
    if (!f) return out;
    f.querySelectorAll("[data-attr]").forEach(function (el) {
      var vals = el.multiple ? Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; })
        : [el.value.trim()];
      vals = vals.filter(Boolean);
      if (vals.length) out[el.dataset.attr] = vals;
    });
    return out;
  }
  function restoreAnswers(a) {
    var f = attrsOf(form.elements.category.value);
    if (!f || !a) return;
    f.querySelectorAll("[data-attr]").forEach(function (el) {
      var vals = a[el.dataset.attr] || [];
      if (el.multiple) Array.prototype.forEach.call(el.options, function (o) { o.selected = vals.indexOf(o.value) >= 0; });
      else if (vals.length) el.value = vals[0];
    });
  }
  var draft = load() || {};
  if (!draft.key) draft.key = newKey();
  var restored = false;
  fields.forEach(function (f) {
    if (draft[f]) { form.elements[f].value = draft[f]; restored = true; }
  });
  showAttrs();
  restoreAnswers(draft.attributes);
  if (restored) status.textContent = words.draft;
  form.addEventListener("input", function () {
    fields.forEach(function (f) { draft[f] = form.elements[f].value; });
    draft.attributes = answers();
    save(draft);
  });
  form.elements.category.addEventListener("change", showAttrs);
  // Searching the categories hides the ones that do not match.
  var search = document.getElementById("cat-search"), select = form.elements.category;
  search.addEventListener("input", function () {
    var q = search.value.trim().toLowerCase();
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (g) {
      var domain = g.label.toLowerCase().indexOf(q) >= 0, any = false;
      Array.prototype.forEach.call(g.children, function (o) {
        o.hidden = q !== "" && !domain && o.textContent.toLowerCase().indexOf(q) < 0;
        any = any || !o.hidden;
      });
      g.hidden = !any;
    });
  });
  document.getElementById("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { status.textContent = words.nolocate; return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      form.elements.lat.value = p.coords.latitude.toFixed(6);
      form.elements.lng.value = p.coords.longitude.toFixed(6);
      form.dispatchEvent(new Event("input"));
      status.textContent = words.located;
    }, function () { status.textContent = words.nolocate; }, { enableHighAccuracy: true, timeout: 15000 });
  });
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var sending = false;
  function attempt(n) {
    var body = {
      category: select.value, description: form.elements.description.value, lat: form.elements.lat.value,
      lng: form.elements.lng.value, address: form.elements.address.value,
      photos: form.elements.photos.value.split(/\s+/).filter(Boolean),
      attributes: answers()
    };
    return fetch("/c/report", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": draft.key },
      body: JSON.stringify(body)
    }).then(function (res) {
      if (res.status >= 500 || res.status === 429) throw new Error("retry");
      return res.json().then(function (j) { return { ok: res.ok, j: j }; });
    }).catch(function (e) {
      // The network failed or the server could not answer: the same key
      // goes again, so a report that did arrive is found, not made twice.
      if (n >= 8) throw e;
      status.textContent = words.retry;
      return new Promise(function (r) { setTimeout(r, Math.min(30000, 1000 * Math.pow(2, n))); })
        .then(function () { return attempt(n + 1); });
    });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (sending) return;
    if (!select.value || !form.elements.description.value.trim()) { status.textContent = words.need; return; }
    sending = true; send.disabled = true; status.textContent = words.sending;
    attempt(0).then(function (r) {
      if (r.ok) {
        status.textContent = r.j.message;
        status.className = "ok";
        localStorage.removeItem(KEY);
        draft = { key: newKey() };
        form.reset();
        showAttrs();
      } else {
        status.textContent = r.j.error;
        status.className = "bad";
      }
    }).catch(function () {
      status.textContent = words.retry;
      status.className = "bad";
    }).then(function () { sending = false; send.disabled = false; });
  });
})();
