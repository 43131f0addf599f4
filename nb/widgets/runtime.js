// clipkit live panels: the browser side of nb/widgets. Inlined into every panel output (it is
// small) and defined once per page. A panel binds its controls to one request to the model
// server, sent from the browser through jupyter-server-proxy (<Jupyter base URL>proxy/PORT/...),
// and redraws its charts in place from the answer: the kernel is never involved.
(function () {
  "use strict";
  var VERSION = 2;
  if (window.clipkitWidgets && window.clipkitWidgets.version >= VERSION) { return; }

  // Jupyter's base URL from the page configuration JupyterLab (and Notebook 7) write into the page.
  function baseUrl() {
    try {
      var el = document.getElementById("jupyter-config-data");
      if (el) {
        var cfg = JSON.parse(el.textContent);
        if (cfg.baseUrl) { return cfg.baseUrl.replace(/\/?$/, "/"); }
      }
    } catch (e) { /* fall through */ }
    return "/";
  }

  // Jupyter checks POST requests against its _xsrf cookie (the cookie login JupyterLab uses).
  function xsrf() {
    var m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function lines(s) {
    return String(s || "").split("\n").map(function (l) { return l.trim(); }).filter(function (l) { return l !== ""; });
  }

  function round(v, d) {
    if (typeof v !== "number" || !isFinite(v)) { return "-"; }
    var p = Math.pow(10, d);
    return Math.round(v * p) / p;
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function values(root) {
    var v = {};
    root.querySelectorAll("[data-clipkit-name]").forEach(function (e) {
      var n = e.getAttribute("data-clipkit-name");
      if (e.type === "checkbox") { v[n] = e.checked; }
      else if (e.type === "range" || e.type === "number") { v[n] = parseFloat(e.value); }
      else if (e.tagName === "BUTTON") { v[n] = parseInt(e.getAttribute("data-clicks") || "0", 10); }
      else { v[n] = e.value; }
    });
    return v;
  }

  function panel(cfg) {
    var root = document.getElementById(cfg.id);
    if (!root || root.__clipkitPanel) { return; }
    root.__clipkitPanel = true;
    var status = root.querySelector(".clipkit-status");
    var errBox = root.querySelector(".clipkit-error");
    var seq = 0, shown = 0, inflight = false, again = false, timer = null, redraws = 0;

    var ctx = {
      state: cfg.state || {},
      lines: lines,
      round: round,
      esc: esc,
      // chart(i) is the ECharts instance of the panel's i-th chart (null until it is drawn).
      chart: function (i) {
        var el = root.querySelectorAll(".clipkit-chart")[i];
        return el && window.echarts ? window.echarts.getInstanceByDom(el) || null : null;
      },
      // slot(i, html) replaces the content of the panel's i-th HTML slot.
      slot: function (i, h) {
        var el = root.querySelectorAll(".clipkit-slot")[i];
        if (el) { el.innerHTML = h; }
      },
      // url(path, server) is the browser address of a server path (token in the query, for <img src>).
      url: function (path, server) {
        var s = cfg.servers[server || cfg.defaultServer];
        if (!s) { return ""; }
        return baseUrl() + s.base + path + (path.indexOf("?") >= 0 ? "&" : "?") + "token=" + encodeURIComponent(s.token);
      },
      // heat(i, rows, cols, values, decimals) redraws a plots.HeatMap chart with new labels and values.
      heat: function (i, rows, cols, vals, d) {
        var c = ctx.chart(i);
        if (!c) { return; }
        var data = [];
        for (var r = 0; r < vals.length; r++) {
          for (var k = 0; k < vals[r].length; k++) { data.push([k, r, round(vals[r][k], d)]); }
        }
        c.setOption({xAxis: [{data: cols, axisLabel: {interval: 0, rotate: cols.length > 6 ? 30 : 0}}], yAxis: [{data: rows}], series: [{data: data}]});
      },
      // bars(i, categories, series, decimals) redraws a plots.Bar or plots.Line chart: series is a list of value lists
      // (or of {name, values}), one per series.
      bars: function (i, cats, series, d) {
        var c = ctx.chart(i);
        if (!c) { return; }
        var opt = c.getOption();
        var catAxis = (opt.yAxis && opt.yAxis[0] && opt.yAxis[0].type === "category") ? "yAxis" : "xAxis";
        var upd = {series: series.map(function (s) {
          var vals = Array.isArray(s) ? s : s.values;
          var o = {data: vals.map(function (v) { return round(v, d); })};
          if (!Array.isArray(s) && s.name) { o.name = s.name; }
          return o;
        })};
        if (cats) { upd[catAxis] = [{data: cats}]; }
        c.setOption(upd);
      },
      // subtitle(i, text) replaces the subtitle of the i-th chart.
      subtitle: function (i, text) {
        var c = ctx.chart(i);
        if (c) { c.setOption({title: [{subtext: text}]}); }
      }
    };

    function show(msg, isErr) {
      if (errBox) { errBox.textContent = isErr ? msg : ""; errBox.style.display = isErr ? "" : "none"; }
      if (status && !isErr) { status.textContent = msg; }
    }

    function send() {
      timer = null;
      if (inflight) { again = true; return; }
      var v = values(root);
      var req;
      try { req = cfg.request(v, ctx); } catch (e) { show(String(e.message || e), true); return; }
      if (req === null || req === undefined) { return; }
      if (typeof req === "string") { show(req, true); return; } // a message saying what to fix
      var my = ++seq, t0 = performance.now();
      inflight = true;
      var srv = cfg.servers[req.server || cfg.defaultServer];
      var done = function (resp, err) {
        inflight = false;
        if (my > shown) {
          shown = my;
          if (err) { show(err, true); }
          else {
            try {
              cfg.render(resp, v, ctx);
              redraws++;
              root.setAttribute("data-clipkit-redraws", String(redraws));
              var ms = performance.now() - t0;
              root.setAttribute("data-clipkit-ms", ms.toFixed(1));
              show("updated " + new Date().toLocaleTimeString() + " in " + ms.toFixed(0) + " ms" +
                (typeof resp.ms === "number" ? " (server " + resp.ms.toFixed(0) + " ms)" : "") +
                (req.server ? " · " + req.server : ""), false);
            } catch (e) { show("drawing the answer failed: " + (e.message || e), true); }
          }
        }
        if (again) { again = false; send(); }
      };
      if (!req.path) { done(req.local || {}, null); return; } // computed in the page, no server
      if (!srv) { done(null, "no model server configured for this panel"); return; }
      fetch(baseUrl() + srv.base + req.path, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Authorization": "Bearer " + srv.token, "X-XSRFToken": xsrf()},
        body: JSON.stringify(req.body || {})
      }).then(function (r) {
        return r.text().then(function (t) {
          var j = null;
          try { j = JSON.parse(t); } catch (e) { /* not JSON */ }
          if (!r.ok) {
            var ours = !!(j && j.error); // the model server's own JSON error, else Jupyter's or the proxy's page
            var m = ours ? j.error : t.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").slice(0, 200);
            if (!ours && (r.status === 404 || r.status >= 500)) {
              m = "the model server did not answer (HTTP " + r.status + ": " + m + "). It stops after its idle time: " +
                "re-run this cell to start it again" + (r.status === 404 ? " (and check that jupyter-server-proxy is installed)" : "") + ".";
            } else if (r.status === 401 || r.status === 403) {
              m = "the model server refused the request (HTTP " + r.status + ": " + m + "): re-run this cell";
            } else {
              m = "HTTP " + r.status + ": " + m;
            }
            done(null, m);
          } else if (!j) {
            done(null, "the model server's answer is not JSON: " + t.slice(0, 200));
          } else {
            done(j, null);
          }
        });
      }).catch(function (e) { done(null, "request failed: " + (e.message || e)); });
    }

    function schedule() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(send, cfg.debounce || 0);
    }

    root.querySelectorAll("[data-clipkit-name]").forEach(function (e) {
      // Keys typed in a control are the control's: JupyterLab's shortcuts (Enter, A, B, X, ...) must not see them.
      e.addEventListener("keydown", function (ev) { ev.stopPropagation(); });
      if (e.tagName === "BUTTON") {
        e.addEventListener("click", function () {
          e.setAttribute("data-clicks", String(parseInt(e.getAttribute("data-clicks") || "0", 10) + 1));
          schedule();
        });
      } else {
        e.addEventListener("input", function () {
          var out = root.querySelector('[data-clipkit-show="' + e.getAttribute("data-clipkit-name") + '"]');
          if (out && cfg.shows && cfg.shows[e.getAttribute("data-clipkit-name")]) {
            out.textContent = cfg.shows[e.getAttribute("data-clipkit-name")](values(root));
          } else if (out) {
            out.textContent = e.value; // a slider without a Shows function shows its value
          }
          schedule();
        });
        e.addEventListener("change", schedule);
      }
    });
    if (status) { status.textContent = cfg.ready || "live: edit the controls to update the charts (the kernel stays free)"; }
    root.setAttribute("data-clipkit-live", "1");
  }

  window.clipkitWidgets = {version: VERSION, panel: panel, lines: lines, round: round, baseUrl: baseUrl};
})();
