// Whistle console: behaviour shared by every page. No inline script runs
// (the Content-Security-Policy forbids it); this file wires what htmx does
// not: the CSRF header, select-all boxes and live countdowns.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (meta) e.detail.headers["X-CSRF-Token"] = meta.content;
  });
  // Every POST form also carries the token as a field, for plain submits.
  document.querySelectorAll('form[method="post"]').forEach(function (f) {
    if (meta && !f.querySelector('input[name="_csrf"]')) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = "_csrf"; i.value = meta.content;
      f.appendChild(i);
    }
  });
  // An error answer of an htmx action still shows its message.
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status >= 400 && e.detail.target && e.detail.target.id === "flash") {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.body.addEventListener("change", function (e) {
    var name = e.target.getAttribute && e.target.getAttribute("data-select-all");
    if (!name) return;
    document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (c) {
      c.checked = e.target.checked;
    });
  });
  // Countdowns to the next escalation step tick every second in place.
  var lang = document.documentElement.lang === "en" ? "en" : "zh";
  function span(ms) {
    var s = Math.max(0, Math.round(ms / 1000)), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
      m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (lang === "en") return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + sec + "s";
    return (d ? d + "天" : "") + (d || h ? h + "小时" : "") + m + "分" + sec + "秒";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-at]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-at"));
      if (isNaN(at)) return;
      // The same words as the server's first rendering (view.Left).
      el.textContent = lang === "en" ? span(at - now) + " left" : "剩余 " + span(at - now);
      el.classList.toggle("soon", at - now < 600000);
    });
  }
  tick();
  setInterval(tick, 1000);
  // The live marker of the wall board says when the event stream is down.
  var live = document.getElementById("live");
  if (live) {
    document.body.addEventListener("htmx:sseOpen", function () { live.textContent = live.dataset.live; live.classList.remove("down"); });
    document.body.addEventListener("htmx:sseError", function () { live.textContent = live.dataset.lost; live.classList.add("down"); });
  }
})();
