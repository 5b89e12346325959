// The map of open incidents: markers coloured by escalation level. With no
// tile address it draws them on a plain background.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) return;
  var map = L.map(el, { attributionControl: !!el.dataset.tiles });
  if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 19 }).addTo(map);
  var colours = ["#2e7d32", "#f9a825", "#ef6c00", "#c62828"];
  fetch(el.dataset.points, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
    var bounds = [];
    (d.points || []).forEach(function (p) {
      var c = colours[Math.min(p.level, 3)];
      var m = L.circleMarker([p.lat, p.lng], { radius: 9, color: "#222", weight: 1, fillColor: c, fillOpacity: 0.9 }).addTo(map);
      var a = document.createElement("div");
      var link = document.createElement("a");
      link.href = "/c/incidents/" + encodeURIComponent(p.id);
      link.textContent = p.category + " " + p.item;
      a.appendChild(link);
      a.appendChild(document.createElement("br"));
      a.appendChild(document.createTextNode(p.status + " · L" + p.level + " · " + p.text));
      m.bindPopup(a);
      bounds.push([p.lat, p.lng]);
    });
    if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
    else map.setView([29.35, 104.77], 13);
  });
})();
