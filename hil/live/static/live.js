// The live bench dashboard: follows /api/stream (Server-Sent Events) and
// shows every status quantity in the element whose data-quantity names it.
// No framework, no CDN: this file and live.css are all there is.
(function () {
  "use strict";

  var DIGITS = { t_s: 1, blood_flow_ml_min: 1, flow_set_ml_min: 1, pump_ml_min: 1, p_access_mmhg: 1,
                 p_pre_mmhg: 1, p_return_mmhg: 1, heparin_u_h: 1, aptt_s: 1, cartridge_left_h: 2 };
  var PRESSURES = ["p_access_mmhg", "p_pre_mmhg", "p_return_mmhg"];
  // Record keys name their unit (rate_u_h, aptt_s): shown as "rate 1260 U/h".
  var UNIT_SUFFIXES = [["_ml_min", "mL/min"], ["_mmhg", "mmHg"], ["_u_h", "U/h"], ["_ml", "mL"], ["_u", "U"],
                       ["_h", "h"], ["_s", "s"]];
  var S = { info: {}, status: {}, history: [], alarms: {}, latched: [], me: { may_command: false } };
  var drawPending = false;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function fmt(key, v) {
    if (v === null || v === undefined) { return "-"; }
    if (typeof v === "number" && DIGITS[key] !== undefined) { return v.toFixed(DIGITS[key]); }
    return String(v);
  }
  function hms(t) {
    if (typeof t !== "number") { return ""; }
    var s = Math.floor(t), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return "(" + h + " h " + (m < 10 ? "0" : "") + m + " min " + (s % 60 < 10 ? "0" : "") + (s % 60) + " s)";
  }
  function limitsOf(key) { return ((S.info || {}).limits || {})[key] || {}; }
  function label(id) { return ((S.info || {}).alarm_labels || {})[id] || id; }

  // -- status ---------------------------------------------------------------------------------
  function showStatus(st) {
    S.status = st;
    var nodes = document.querySelectorAll("[data-quantity]");
    for (var i = 0; i < nodes.length; i++) {
      var key = nodes[i].getAttribute("data-quantity");
      if (Object.prototype.hasOwnProperty.call(st, key)) { nodes[i].textContent = fmt(key, st[key]); }
    }
    $("state").className = "state s-" + st.state;
    $("clock").textContent = hms(st.t_s);
    PRESSURES.forEach(function (key) {
      var lim = limitsOf(key), v = st[key], node = document.querySelector("[data-quantity=" + key + "]");
      var over = typeof v === "number" && ((lim.low != null && v < lim.low) || (lim.high != null && v > lim.high));
      node.classList.toggle("over", !!over);
    });
    var hours = limitsOf("cartridge_hours");
    if (typeof hours === "number" && typeof st.cartridge_left_h === "number") {
      $("cart-meter").style.width = Math.max(0, Math.min(100, 100 * st.cartridge_left_h / hours)) + "%";
    }
    // An alarm the board no longer has (a missed clear, a restart) goes.
    var present = st.alarms || [], gone = false;
    Object.keys(S.alarms).forEach(function (id) {
      if (present.indexOf(id) < 0 && S.alarms[id].t_s <= st.t_s) { delete S.alarms[id]; gone = true; }
    });
    if (gone) { showAlarms(); }
    S.latched = st.latched || [];
    showLatched();
  }

  // -- alarms ---------------------------------------------------------------------------------
  function showAlarms() {
    var ul = $("alarms"), order = { high: 0, medium: 1, low: 2 };
    ul.textContent = "";
    var list = Object.keys(S.alarms).map(function (k) { return S.alarms[k]; });
    list.sort(function (a, b) { return (order[a.priority] - order[b.priority]) || (a.t_s - b.t_s); });
    list.forEach(function (a) {
      var li = el("li", "alarm prio-" + a.priority);
      li.setAttribute("data-alarm", a.id);
      li.setAttribute("data-priority", a.priority);
      li.appendChild(el("span", "name", a.label || label(a.id)));
      li.appendChild(el("span", "prio", a.priority));
      if (a.value !== null && a.value !== undefined) {
        li.appendChild(el("span", "val", a.value + (a.unit ? " " + a.unit : "")));
      }
      ul.appendChild(li);
    });
    $("no-alarms").hidden = list.length > 0;
  }
  function showLatched() {
    var l = S.latched.filter(function (id) { return !S.alarms[id]; });
    $("latched").textContent = l.length ? "awaiting acknowledgement: " + l.map(label).join(", ") : "";
  }
  function takeAlarm(a) {
    if (a.active) { S.alarms[a.id] = a; } else { delete S.alarms[a.id]; }
    showAlarms();
    showLatched();
  }

  // -- events, aPTT entries ---------------------------------------------------------------------
  function describe(e) {
    var skip = { t_s: 1, type: 1 }, parts = [];
    Object.keys(e).forEach(function (k) {
      if (!skip[k] && e[k] !== null && e[k] !== undefined && k !== "value_unit") {
        var v = e[k];
        if (k === "value" && e.value_unit) { v = v + " " + e.value_unit; }
        if (k === "alarm") { parts.push(label(v)); return; }
        var unit = "";
        UNIT_SUFFIXES.some(function (u) {
          if (k.length > u[0].length && k.slice(-u[0].length) === u[0]) { k = k.slice(0, -u[0].length); unit = " " + u[1]; return true; }
          return false;
        });
        parts.push(k.replace(/_/g, " ") + " " + v + unit);
      }
    });
    return parts.join(", ");
  }
  function addEvent(e, atTop) {
    var ol = $("events"), li = el("li", "ev-" + e.type);
    li.appendChild(el("span", "t", fmt("t_s", e.t_s) + " s"));
    li.appendChild(el("strong", null, e.type.replace(/_/g, " ")));
    li.appendChild(document.createTextNode(" " + describe(e)));
    if (atTop) { ol.insertBefore(li, ol.firstChild); } else { ol.appendChild(li); }
    while (ol.childNodes.length > 500) { ol.removeChild(ol.lastChild); }
    if (e.type === "aptt_entered") { addAptt(e); }
  }
  function addAptt(e) {
    var ol = $("aptt-entries"), li = el("li", null, fmt("t_s", e.t_s) + " s " + hms(e.t_s) + ": ");
    li.appendChild(el("strong", null, fmt("aptt_s", e.aptt_s) + " s"));
    ol.insertBefore(li, ol.firstChild);
  }

  // -- charts ---------------------------------------------------------------------------------
  var SVGNS = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function drawChart(svg, series, limits) {
    var W = svg.clientWidth || 600, H = svg.clientHeight || 200, pts = S.history;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.textContent = "";
    if (pts.length < 2) { return; }
    var t0 = pts[0].t_s, t1 = pts[pts.length - 1].t_s, lo = Infinity, hi = -Infinity;
    series.forEach(function (s) {
      pts.forEach(function (p) { var v = p[s.key]; if (typeof v === "number") { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    });
    limits.forEach(function (v) { lo = Math.min(lo, v); hi = Math.max(hi, v); });
    if (!isFinite(lo)) { return; }
    var pad = Math.max(5, (hi - lo) * 0.08); lo -= pad; hi += pad;
    var x = function (t) { return t1 > t0 ? (t - t0) / (t1 - t0) * W : 0; };
    var y = function (v) { return H - (v - lo) / (hi - lo) * H; };
    [0.25, 0.5, 0.75].forEach(function (f) {
      svg.appendChild(svgEl("line", { x1: 0, x2: W, y1: H * f, y2: H * f, "class": "grid" }));
      var txt = svgEl("text", { x: 4, y: H * f - 3, "class": "axis" });
      txt.textContent = (hi - f * (hi - lo)).toFixed(0);
      svg.appendChild(txt);
    });
    limits.forEach(function (v) {
      svg.appendChild(svgEl("line", { x1: 0, x2: W, y1: y(v), y2: y(v), "class": "limit" }));
    });
    [[t0, 4, "start"], [t1, W - 4, "end"]].forEach(function (a) {
      var txt = svgEl("text", { x: a[1], y: H - 4, "class": "axis", "text-anchor": a[2] });
      txt.textContent = hms(a[0]).replace(/[()]/g, "");
      svg.appendChild(txt);
    });
    series.forEach(function (s) {
      var d = [];
      pts.forEach(function (p) { if (typeof p[s.key] === "number") { d.push(x(p.t_s).toFixed(1) + "," + y(p[s.key]).toFixed(1)); } });
      svg.appendChild(svgEl("polyline", { points: d.join(" "), "class": s.cls }));
    });
  }
  function pressureLimits() {
    var out = [];
    PRESSURES.forEach(function (k) {
      var l = limitsOf(k);
      if (typeof l.low === "number") { out.push(l.low); }
      if (typeof l.high === "number") { out.push(l.high); }
    });
    return out;
  }
  function drawAll() {
    drawPending = false;
    drawChart($("chart-pressures"), [{ key: "p_access_mmhg", cls: "access" }, { key: "p_pre_mmhg", cls: "pre" },
                                     { key: "p_return_mmhg", cls: "ret" }], pressureLimits());
    drawChart($("chart-flow"), [{ key: "flow_set_ml_min", cls: "set" }, { key: "blood_flow_ml_min", cls: "flow" }], []);
    drawChart($("chart-heparin"), [{ key: "heparin_u_h", cls: "hep" }], []);
  }
  function scheduleDraw() {
    if (!drawPending) { drawPending = true; window.requestAnimationFrame(drawAll); }
  }

  // -- info, online -----------------------------------------------------------------------------
  function showInfo(info) {
    S.info = info || {};
    var fw = S.info.firmware || {}, lim = S.info.limits || {};
    $("board-id").textContent = S.info.board_id || "";
    $("foot-board").textContent = S.info.board_id || "";
    $("firmware").textContent = fw.firmware ? "firmware " + fw.firmware + " on " + (fw.board || "?") +
      " (" + (fw.hal || "?") + " HAL)" : "";
    $("speed").textContent = S.info.speed ? "speed " + S.info.speed + " x real time" : "";
    $("cart-of").textContent = lim.max_cartridges ? "of " + lim.max_cartridges : "";
    var txt = function (l) {
      var p = [];
      if (typeof l.low === "number") { p.push("low " + l.low); }
      if (typeof l.high === "number") { p.push("high " + l.high); }
      return p.length ? "alarm limits: " + p.join(", ") : "";
    };
    PRESSURES.forEach(function (k) { $("lim-" + k).textContent = txt(lim[k] || {}); });
    var cmds = S.info.commands || [];
    document.querySelectorAll("[data-command]").forEach(function (b) {
      b.setAttribute("data-offered", cmds.indexOf(b.getAttribute("data-command")) >= 0 ? "1" : "0");
    });
    showMe(S.me);
    scheduleDraw();
  }
  function showOnline(v) {
    var b = $("online");
    b.textContent = v || "unknown";
    b.className = "badge " + (v === "online" ? "online" : "offline");
  }

  // -- snapshot ---------------------------------------------------------------------------------
  function takeSnapshot(s) {
    showInfo(s.info);
    showOnline(s.online);
    S.history = s.history || [];
    S.alarms = {};
    (s.alarms || []).forEach(function (a) { S.alarms[a.id] = a; });
    if (s.status && s.status.state) { showStatus(s.status); }
    showAlarms();
    $("events").textContent = "";
    $("aptt-entries").textContent = "";
    (s.events || []).forEach(function (e) { addEvent(e, true); });
    scheduleDraw();
  }

  // -- the operator -----------------------------------------------------------------------------
  function post(path, body) {
    return fetch(path, { method: "POST", credentials: "same-origin",
                         headers: { "Content-Type": "application/json", "X-Hemosorb": "1" },
                         body: JSON.stringify(body || {}) })
      .then(function (r) { return r.json().then(function (j) { j.http = r.status; return j; }); });
  }
  function showMe(me) {
    S.me = me || { may_command: false };
    var logged = !!S.me.user;
    $("login-form").hidden = logged;
    $("whoami").hidden = !logged;
    $("who").textContent = logged ? "Logged in as " + S.me.user + " (" + S.me.role + ")" : "";
    $("login-message").textContent = !logged ? "Log in as an operator to command; anyone may watch." :
      (S.me.may_command ? "" : "A viewer may watch but not command.");
    document.querySelectorAll("[data-command]").forEach(function (b) {
      b.disabled = !S.me.may_command || b.getAttribute("data-offered") === "0";
    });
    $("aptt-value").disabled = !S.me.may_command;
  }
  function showResult(r) {
    var p = $("command-result");
    p.className = r.ok ? "ok" : "err";
    p.textContent = (r.command || "command") + ": " + (r.ok ? "done (" + (r.result || "ok") + ")" :
      (r.message || r.error || "refused"));
  }
  function command(name, value) {
    var body = { command: name };
    if (value !== undefined) { body.value = value; }
    $("command-result").textContent = name + " ...";
    return post("/api/command", body).then(showResult, function (e) { showResult({ ok: false, message: String(e) }); });
  }
  function wire() {
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      post("/api/login", { user: $("login-user").value, password: $("login-password").value }).then(function (r) {
        $("login-password").value = "";
        if (r.http === 200) { showMe(r); } else { $("login-message").textContent = r.message || "login refused"; }
      });
    });
    $("logout-button").addEventListener("click", function () { post("/api/logout").then(showMe); });
    document.querySelectorAll("button[data-command]").forEach(function (b) {
      if (b.getAttribute("data-command") !== "aptt") {
        b.addEventListener("click", function () { command(b.getAttribute("data-command")); });
      }
    });
    $("aptt-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = parseFloat($("aptt-value").value);
      if (isFinite(v)) { command("aptt", v); }
    });
    fetch("/api/me", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(showMe);
  }

  // -- the stream -------------------------------------------------------------------------------
  function connect() {
    var es = new EventSource("/api/stream");
    var on = function (kind, fn) {
      es.addEventListener(kind, function (m) { fn(JSON.parse(m.data)); });
    };
    on("snapshot", takeSnapshot);
    on("info", showInfo);
    on("online", showOnline);
    on("status", function (st) {
      if (S.history.length && st.t_s < S.history[S.history.length - 1].t_s) { S.history = []; }
      S.history.push(st);
      if (S.history.length > 1200) { S.history.shift(); }
      showStatus(st);
      scheduleDraw();
    });
    on("alarm", takeAlarm);
    on("event", function (e) { addEvent(e, true); });
    on("result", function (r) {
      // Commands carried out by the board (any operator's) go on the time line too.
      if (typeof r.t_s === "number") { addEvent({ t_s: r.t_s, type: "command", command: r.command, result: r.result }, true); }
    });
    es.onopen = function () { document.body.setAttribute("data-stream", "open"); };
    es.onerror = function () { document.body.setAttribute("data-stream", "reconnecting"); };
  }

  document.addEventListener("DOMContentLoaded", function () {
    wire();
    connect();
    window.addEventListener("resize", scheduleDraw);
  });
}());
