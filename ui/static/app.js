// nines UI: the little the server cannot do. The theme toggle, hover
// read-outs on the violation strip, and dragging across it to zoom (which
// changes ?from=&to=, so the zoomed picture has a link of its own).
"use strict";
(function () {
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("nines-theme"); } catch (e) { /* storage off */ }
  if (saved === "light" || saved === "dark") root.setAttribute("data-theme", saved);

  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function fmtUTC(d) {
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + " UTC";
  }
  // formatter writes times in zone (an IANA name: the SLO's calendar
  // zone, where the page cuts its days) as the server does,
  // "2026-12-01 00:00 CET"; in UTC without one or without Intl.
  function formatter(zone) {
    if (!zone || typeof Intl === "undefined") return fmtUTC;
    var f;
    try {
      f = new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" });
    } catch (e) { return fmtUTC; }
    return function (d) {
      var p = {};
      f.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
      return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + " " + p.timeZoneName;
    };
  }
  function iso(d) { return d.toISOString().replace(/\.\d{3}Z$/, "Z"); }

  function setupTheme() {
    var b = document.getElementById("theme");
    if (!b) return;
    b.addEventListener("click", function () {
      var dark = root.getAttribute("data-theme") === "dark" ||
        (!root.getAttribute("data-theme") && window.matchMedia("(prefers-color-scheme: dark)").matches);
      var next = dark ? "light" : "dark";
      root.setAttribute("data-theme", next);
      try { localStorage.setItem("nines-theme", next); } catch (e) { /* storage off */ }
    });
  }

  function setupStrip(wrap) {
    var svg = wrap.querySelector("svg");
    var out = document.getElementById("strip-readout");
    var sel = wrap.querySelector("rect.sel");
    var from = Number(wrap.getAttribute("data-from"));
    var bucket = Number(wrap.getAttribute("data-bucket"));
    var fmt = formatter(wrap.getAttribute("data-zone"));
    // Each cell is good,bad,unmeasured[,pending].
    var cells = (wrap.getAttribute("data-cells") || "").split(";").map(function (c) {
      return c.split(",").map(Number);
    });
    var vb = svg.viewBox.baseVal, left = 8, right = 8;
    var plotW = vb.width - left - right;
    function index(ev) {
      var r = svg.getBoundingClientRect();
      var x = (ev.clientX - r.left) / r.width * vb.width;
      var i = Math.floor((x - left) / plotW * cells.length);
      return Math.max(0, Math.min(cells.length - 1, i));
    }
    function xOf(i) { return left + i / cells.length * plotW; }
    var start = null;
    svg.addEventListener("mousemove", function (ev) {
      var i = index(ev), c = cells[i] || [0, 0, 0];
      var t0 = new Date((from + i * bucket) * 1000), t1 = new Date((from + (i + 1) * bucket) * 1000);
      var text = fmt(t0) + " – " + fmt(t1) + ": " + c[0] + " good, " + c[1] + " bad, " + c[2] + " unmeasured";
      if (c[3]) text += ", " + c[3] + " pending (not judged yet)";
      if (out) out.textContent = text;
      if (start !== null) {
        var a = Math.min(start, i), b = Math.max(start, i);
        sel.setAttribute("x", xOf(a));
        sel.setAttribute("width", xOf(b + 1) - xOf(a));
      }
    });
    svg.addEventListener("mousedown", function (ev) { start = index(ev); ev.preventDefault(); });
    window.addEventListener("mouseup", function (ev) {
      if (start === null) return;
      var i = index(ev), a = Math.min(start, i), b = Math.max(start, i) + 1;
      start = null;
      if (b - a < 2 && bucket <= 60) return; // a click, not a selection
      zoom(new Date((from + a * bucket) * 1000), new Date((from + b * bucket) * 1000), wrap.getAttribute("data-zoom"));
    });
  }

  // zoom opens page (the SLO's live page; this page when absent) on
  // [t0, t1).
  function zoom(t0, t1, page) {
    var u = page ? new URL(page, window.location.href) : new URL(window.location.href);
    u.searchParams.delete("range");
    u.searchParams.set("from", iso(t0));
    u.searchParams.set("to", iso(t1));
    window.location.assign(u.toString());
  }
  window.ninesZoom = zoom;

  document.addEventListener("DOMContentLoaded", function () {
    setupTheme();
    var w = document.querySelectorAll(".strip-wrap");
    for (var i = 0; i < w.length; i++) setupStrip(w[i]);
  });
})();
