// streamlearn's operator console: plain JavaScript, no build step. Every figure comes from the
// binary's own JSON routes (/v1/console/... and the /v1 API); charts are drawn with the vendored
// uPlot. window.slConsole exposes the charts and what each page last drew, for the browser tests.
"use strict";

(function () {
  const TOKEN_KEY = "streamlearn.token";
  const state = { charts: {}, drawn: {}, page: "", timer: null, model: "" };
  window.slConsole = state;

  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  };
  const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
  const fmtInt = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en"));
  const fmtTime = (s) => new Date(s * 1000).toISOString().replace("T", " ").slice(0, 19);
  const status = (msg, bad) => { const s = $("#status"); s.textContent = msg; s.classList.toggle("error", !!bad); };

  // ---- API calls: the token is asked for once (on the first 401) and kept in sessionStorage.

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

  function askToken() {
    return new Promise((resolve) => {
      const d = $("#token-dialog");
      $("#token-input").value = token();
      d.addEventListener("close", () => {
        const t = $("#token-input").value.trim();
        if (t) sessionStorage.setItem(TOKEN_KEY, t);
        resolve(t);
      }, { once: true });
      if (!d.open) d.showModal();
    });
  }

  async function api(path, opts = {}, retried = false) {
    const headers = Object.assign({}, opts.headers || {});
    if (token()) headers["Authorization"] = "Bearer " + token();
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method: opts.method || "GET", headers, body: opts.body, credentials: "same-origin" });
    if (resp.status === 401 && !retried) {
      sessionStorage.removeItem(TOKEN_KEY);
      if (await askToken()) return api(path, opts, true);
    }
    const body = await resp.json().catch(() => ({ error: "not JSON (" + resp.status + ")" }));
    if (!resp.ok) throw new Error(path + ": " + resp.status + " " + (body.error || ""));
    return body;
  }

  // confirm asks the operator to confirm a change, with the token to send; it resolves to false
  // when cancelled.
  // confirmChange asks the operator to confirm text (and for the token). It answers from the
  // buttons' own clicks: the dialog's close event is queued, and one left over from the previous
  // question would answer this one.
  function confirmChange(text) {
    return new Promise((resolve) => {
      const d = $("#confirm-dialog"), ok = $("#confirm-ok"), cancel = $("#confirm-cancel");
      $("#confirm-text").textContent = text;
      $("#confirm-token").value = token();
      const done = (yes) => (ev) => {
        if (ev) ev.preventDefault();
        ok.removeEventListener("click", onOK);
        cancel.removeEventListener("click", onCancel);
        d.removeEventListener("cancel", onCancel);
        if (yes) {
          const t = $("#confirm-token").value.trim();
          if (t) sessionStorage.setItem(TOKEN_KEY, t);
        }
        d.close();
        resolve(yes);
      };
      const onOK = done(true), onCancel = done(false);
      ok.addEventListener("click", onOK);
      cancel.addEventListener("click", onCancel);
      d.addEventListener("cancel", onCancel); // Escape
      d.showModal();
    });
  }


  // ---- charts

  const palette = ["#2f6fdb", "#d9534f", "#3a9d5d", "#e69f00", "#8e44ad", "#16a2b8", "#7f8c8d", "#c0392b"];

  // plot draws data (uPlot's columns: x first) into the element with id, with one series per name.
  function plot(id, names, data, extra = {}) {
    const host = document.getElementById(id);
    const width = Math.max(host.clientWidth - 4, 300);
    const key = names.join("|");
    const old = state.charts[id];
    if (old && old._key === key) {
      old.setData(data);
      if (Math.abs(old.width - width) > 8) old.setSize({ width, height: old.height });
      return old;
    }
    if (old) old.destroy();
    const series = [{}].concat(names.map((n, i) => Object.assign({ label: n, stroke: palette[i % palette.length], width: 1.5, spanGaps: true }, (extra.series || {})[n] || {})));
    const opts = { width, height: extra.height || 200, series, scales: extra.scales || { x: { time: extra.time !== false } }, axes: extra.axes || [{}, { size: 64 }], legend: { live: true },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC") }; // UTC, like the tables
    const u = new uPlot(opts, data, host);
    u._key = key;
    state.charts[id] = u;
    return u;
  }

  // sparkline draws values on a small canvas (the overview's tiles).
  function sparkline(canvas, values) {
    const w = (canvas.width = canvas.clientWidth * devicePixelRatio || 150), h = (canvas.height = 28 * devicePixelRatio);
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    const vs = values.map((v) => (v === null ? NaN : v));
    const fin = vs.filter(Number.isFinite);
    if (fin.length < 2) return 0;
    const lo = Math.min(...fin), hi = Math.max(...fin), span = hi - lo || 1;
    ctx.strokeStyle = "#2f6fdb";
    ctx.lineWidth = devicePixelRatio;
    ctx.beginPath();
    let n = 0;
    vs.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const x = (i / (vs.length - 1)) * (w - 2) + 1, y = h - 2 - ((v - lo) / span) * (h - 4);
      n++ ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
    return n;
  }

  // ---- overview

  async function overview() {
    const o = await api("/v1/console/overview");
    const last = (a) => (a.length ? a[a.length - 1] : null);
    const deadNow = Object.values(o.dead_letters_per_s).reduce((s, a) => s + (last(a) || 0), 0);
    const deadSeries = o.time.map((_, i) => Object.values(o.dead_letters_per_s).reduce((s, a) => s + (a[i] || 0), 0));
    const ages = Object.entries(o.model_age_s);
    const tiles = [
      ["events/s", fmt(last(o.events_per_s), 1), o.events_per_s],
      ["predictions/s", fmt(last(o.predictions_per_s), 1), o.predictions_per_s],
      ["dead letters/s", fmt(deadNow, 2), deadSeries],
      ["consumer lag", fmtInt(last(o.consumer_lag)), o.consumer_lag],
      ["ClickHouse buffer", fmtInt(last(o.clickhouse_buffered)) + " / " + fmtInt(o.clickhouse_max_buffered), o.clickhouse_buffered],
      ["model freshness", ages.length ? ages.map(([m, a]) => m + ": " + fmt(a, 0) + " s").join(", ") : "–", null],
      ["serving", Object.entries(o.serving_version).map(([m, v]) => m + " v" + v).join(", ") || "–", null],
    ];
    const box = $("#tiles");
    box.replaceChildren();
    state.drawn.sparklines = {};
    for (const [label, value, series] of tiles) {
      const t = el("div", { class: "tile" }, el("div", { class: "label", text: label }), el("div", { class: "value", text: value }));
      box.append(t);
      if (series) {
        const c = el("canvas", { "data-series": label });
        t.append(c);
        state.drawn.sparklines[label] = sparkline(c, series);
      }
    }
    plot("chart-rates", ["events/s", "predictions/s"], [o.time, o.events_per_s, o.predictions_per_s]);
    const reasons = Object.keys(o.dead_letters_per_s);
    plot("chart-dead", reasons.length ? reasons : ["(none)"], [o.time].concat(reasons.length ? reasons.map((r) => o.dead_letters_per_s[r]) : [o.time.map(() => 0)]));
    plot("chart-lag", ["lag"], [o.time, o.consumer_lag]);
    plot("chart-buffer", ["buffered rows"], [o.time, o.clickhouse_buffered]);
    state.drawn.overview = { points: o.time.length, events_total: o.events_total, dead_letters_total: o.dead_letters_total };
  }

  // ---- models

  async function models() {
    const list = await api("/v1/models");
    const box = $("#models-list");
    box.replaceChildren();
    for (const m of list.models) box.append(modelPanel(m));
    const chosen = list.models.find((m) => m.model === state.model) || list.models[0];
    state.drawn.models = { models: list.models.map((m) => ({ model: m.model, serving: m.serving_version, champion: m.champion,
      versions: m.versions.length + (m.live && !m.versions.some((v) => v.version === m.live.version) ? 1 : 0) })) };
    if (!chosen) return;
    const model = chosen.model;
    $("#models-chosen").textContent = model;
    // The retained snapshots and the live version (the newest publish), oldest first.
    const all = chosen.versions.concat(chosen.live && !chosen.versions.some((v) => v.version === chosen.live.version) ? [chosen.live] : []);
    const vs = all.filter((v) => v.created_at).sort((a, b) => a.version - b.version);
    plot("chart-progressive", ["progressive AUC", "progressive logloss"],
      [vs.map((v) => Date.parse(v.created_at) / 1000), vs.map((v) => (v.metrics.n ? v.metrics.auc : null)), vs.map((v) => (v.metrics.n ? v.metrics.logloss : null))],
      { series: { "progressive AUC": { points: { show: true } }, "progressive logloss": { points: { show: true } } } });
    state.drawn.progressive = { model, versions: vs.length };
    const [perf, hist] = await Promise.all([
      api("/v1/console/models/" + encodeURIComponent(model) + "/performance").catch((e) => ({ error: e.message, versions: [] })),
      api("/v1/models/" + encodeURIComponent(model) + "/history"),
    ]);
    drawPerformance(perf);
    const rows = hist.history.map((h) => el("tr", {}, el("td", { text: h.time.slice(0, 19) }), el("td", { class: "num", text: h.previous + " → " + h.version }),
      el("td", { text: h.pinned ? "pinned" : "" }), el("td", { text: h.reason })));
    $("#models-history").replaceChildren(el("table", {}, el("tr", {}, ...["time", "change", "", "reason"].map((t) => el("th", { text: t }))), ...rows));
  }

  function modelPanel(m) {
    const route = m.route ? m.route + (m.share ? " " + Math.round(m.share * 100) + "%" : "") : "not routed";
    const head = el("h3", {}, el("a", { href: "#models", class: "model-name", "data-model": m.model, onclick: (ev) => { ev.preventDefault(); state.model = m.model; refresh("models"); } }, m.model),
      el("span", { class: "tag", text: route }), m.pinned ? el("span", { class: "tag pinned", text: "pinned" }) : "",
      " serving v" + m.serving_version + ", champion v" + m.champion + " ",
      el("button", { class: "danger", "data-action": "rollback", "data-model": m.model, onclick: () => change(m.model, "rollback") }, "Roll back"), " ",
      el("button", { "data-action": "pin", "data-model": m.model, onclick: () => change(m.model, m.pinned ? "unpin" : "pin", m.champion) }, m.pinned ? "Unpin" : "Pin"));
    const shown = (m.live && !m.versions.some((v) => v.version === m.live.version) ? [m.live] : []).concat(m.versions); // newest first
    const rows = shown.map((v) => el("tr", { "data-version": v.version },
      el("td", { class: "num", text: v.version + (v.version === m.champion ? " ★" : "") }),
      el("td", { text: (v.created_at || "").slice(0, 19) }), el("td", { class: "num", text: fmtInt(v.examples) }),
      el("td", { class: "num", text: fmt(v.metrics.auc) }), el("td", { class: "num", text: fmt(v.metrics.logloss) }),
      el("td", { class: "num", text: v.parent ? "v" + v.parent : "" }), el("td", { text: [v.kind || "live"].concat(v.tags || []).join(", ") }), el("td", { text: v.note || "" }),
      el("td", {}, el("button", { "data-action": "report", "data-model": m.model, "data-version": v.version, onclick: () => report(m.model, v.version) }, "Report"), " ",
        v.version === m.champion ? "" : el("button", { "data-action": "promote", "data-model": m.model, "data-version": v.version, onclick: () => change(m.model, "promote", v.version) }, "Promote"))));
    const table = el("table", {}, el("tr", {}, ...["version", "created", "examples", "progressive AUC", "logloss", "parent", "kind, tags", "note", ""].map((t) => el("th", { text: t }))), ...rows);
    return el("div", { class: "panel model", "data-model": m.model }, head, table);
  }

  // report shows a version's evaluation report and its lineage (GET /v1/models/{model}/versions).
  async function report(model, version) {
    const list = await api("/v1/models/" + encodeURIComponent(model) + "/versions");
    const byVersion = new Map(list.versions.map((v) => [v.version, v]));
    const v = byVersion.get(version);
    const box = $("#models-report");
    if (!v) {
      box.replaceChildren(el("p", { text: "v" + version + " is no longer retained." }));
      state.drawn.report = { model, version, missing: true };
      return;
    }
    const lineage = [];
    for (let p = v; p && lineage.length < 20; p = byVersion.get(p.parent)) lineage.push("v" + p.version);
    $("#report-title").textContent = model + " v" + version + " · lineage " + lineage.join(" ← ");
    const rep = v.report || { progressive: v.metrics };
    const kv = (pairs) => el("table", {}, ...pairs.map(([k, val]) => el("tr", {}, el("th", { text: k }), el("td", { class: "num", text: val }))));
    const parts = [el("h4", { text: "Progressive (scored before learned)" }), kv([["examples", fmtInt(rep.progressive.n)], ["AUC", fmt(rep.progressive.auc)], ["logloss", fmt(rep.progressive.logloss)]])];
    if (rep.held_out) {
      parts.push(el("h4", { text: "Held out in time (the next " + fmtInt(rep.held_out.n) + " examples, never learned)" }),
        kv([["AUC", fmt(rep.held_out.auc)], ["logloss", fmt(rep.held_out.logloss)], ["Brier", fmt(rep.held_out.brier)]]));
    } else {
      parts.push(el("p", { text: "No held-out figures yet: the learner computes them on the examples that arrive after it takes up this snapshot." }));
    }
    if (rep.calibration && rep.calibration.length) {
      parts.push(el("h4", { text: "Calibration" }), el("table", {}, el("tr", {}, ...["score bin", "n", "mean score", "mean label"].map((t) => el("th", { text: t }))),
        ...rep.calibration.map((b) => el("tr", {}, el("td", { text: fmt(b.lo) + "–" + fmt(b.hi) }), el("td", { class: "num", text: fmtInt(b.n) }),
          el("td", { class: "num", text: fmt(b.mean_score) }), el("td", { class: "num", text: fmt(b.mean_label) })))));
    }
    if (rep.top_weights && rep.top_weights.length) {
      parts.push(el("h4", { text: "Largest weights" }), kv(rep.top_weights.slice(0, 10).map((w) => [w.feature, fmt(w.weight)])));
    }
    if (rep.gate) {
      parts.push(el("h4", { text: "Promotion gate" }), kv([["champion v" + rep.gate.champion, fmt(rep.gate.champion_metric)], ["challenger v" + rep.gate.challenger, fmt(rep.gate.challenger_metric)],
        ["margin", fmt(rep.gate.margin)], ["decision", rep.gate.promoted ? "promoted" : "rejected"]]));
    }
    box.replaceChildren(...parts);
    state.drawn.report = { model, version, lineage, progressive_n: rep.progressive.n, held_out_n: rep.held_out ? rep.held_out.n : 0,
      calibration_n: (rep.calibration || []).reduce((a, b) => a + b.n, 0), top_weights: (rep.top_weights || []).length };
  }

  // change promotes, pins, unpins or rolls back a model after the operator confirms.
  async function change(model, action, version) {
    const what = { rollback: "Roll back " + model + " to its previous champion?", promote: "Promote " + model + " v" + version + " to champion (and pin it)?",
      pin: "Pin " + model + " v" + version + " (automatic promotions pause)?", unpin: "Unpin " + model + " v" + version + " (automatic promotions resume)?" }[action];
    if (!(await confirmChange(what))) return;
    const path = "/v1/models/" + encodeURIComponent(model) + "/" + (action === "rollback" ? "rollback" : "promote");
    const body = action === "rollback" ? { reason: "console rollback" } : { version, pin: action !== "unpin", reason: "console " + action };
    try {
      const res = await api(path, { method: "POST", body: JSON.stringify(body) });
      state.drawn.lastChange = res;
      status(action + " " + model + ": now v" + res.version + " (was v" + res.previous + ")");
    } catch (e) {
      state.drawn.lastChange = { error: e.message };
      status(e.message, true);
    }
    await models();
  }

  function drawPerformance(perf) {
    const xs = [...new Set(perf.versions.flatMap((v) => v.time))].sort((a, b) => a - b);
    const names = perf.versions.map((v) => (v.version < 0 ? "all versions" : "v" + v.version));
    const column = (v, field) => { const at = new Map(v.time.map((t, i) => [t, v[field][i]])); return xs.map((x) => (at.has(x) ? at.get(x) : null)); };
    const auc = [xs].concat(perf.versions.map((v) => column(v, "auc")));
    const ll = [xs].concat(perf.versions.map((v) => column(v, "logloss")));
    plot("chart-auc", names.length ? names : ["(no rows yet)"], names.length ? auc : [[], []]);
    plot("chart-logloss", names.length ? names : ["(no rows yet)"], names.length ? ll : [[], []]);
    state.drawn.performance = { versions: names, windows: xs.length, error: perf.error || "" };
  }

  // ---- drift

  // colour maps a statistic to a white-to-red scale; PSI over 0.25 is deep red.
  function colour(stat, v) {
    if (v === null || v === undefined) return "#eee";
    const top = { psi: 0.5, ks: 0.5, js: 0.3, wasserstein: null, missing_rate: 1 }[stat];
    const f = Math.max(0, Math.min(1, top ? v / top : v / (state.drawn.driftMax || 1)));
    const g = Math.round(245 - 190 * f), b = Math.round(240 - 200 * f);
    return "rgb(245," + g + "," + b + ")";
  }

  async function driftPage() {
    const stat = $("#drift-stat").value, windows = $("#drift-windows").value || 30;
    const d = await api("/v1/console/drift?windows=" + encodeURIComponent(windows));
    const cells = new Map(d.cells.map((c) => [c.feature + "|" + c.window, c]));
    state.drawn.driftMax = Math.max(0, ...d.cells.map((c) => c[stat] || 0));
    const hm = $("#heatmap");
    hm.replaceChildren();
    hm.style.gridTemplateColumns = "minmax(120px, max-content) repeat(" + d.windows.length + ", minmax(14px, 1fr))";
    hm.append(el("div", { class: "hdr", text: "feature \\ window" }));
    d.windows.forEach((w, i) => hm.append(el("div", { class: "hdr", text: i % 5 === 0 ? fmtTime(w).slice(11, 16) : "", title: fmtTime(w) })));
    let filled = 0;
    const drifted = new Set();
    for (const f of d.features) {
      hm.append(el("div", { class: "rowname", text: f }));
      for (const w of d.windows) {
        const c = cells.get(f + "|" + w);
        const cell = el("div", { class: "cell" + (c ? (c.drifted ? " drifted" : "") : " empty"), "data-feature": f, "data-window": w });
        if (c) {
          filled++;
          if (c.drifted) drifted.add(f);
          cell.dataset.value = c[stat] === null ? "" : c[stat];
          cell.dataset.reference = c.reference;
          cell.style.background = colour(stat, c[stat]);
          cell.title = f + " @ " + fmtTime(w) + "\nn " + c.n + "\nPSI " + fmt(c.psi) + "\nKS " + fmt(c.ks) + " (p " + fmt(c.ks_pvalue) + ")\nJS " + fmt(c.js) +
            "\nWasserstein " + fmt(c.wasserstein) + "\nchi² " + fmt(c.chi2) + "\nmissing " + fmt(c.missing_rate) +
            (c.reference === w ? "\n(reference window)" : "\nreference " + fmtTime(c.reference)) +
            (c[stat] === null ? "\nno " + stat + ": the reference is still open, or no values" : "") + (c.drifted ? "\nDRIFTED" : "");
          cell.addEventListener("click", () => histogram(c, cell.title));
        }
        hm.append(cell);
      }
    }
    state.drawn.heatmap = { features: d.features, windows: d.windows.length, filled, drifted: [...drifted], stat };
    // Show the histograms of the cell that moved most in the latest window that has comparisons.
    const compared = d.cells.filter((c) => c.bins && c.bins.length && c.reference !== c.window);
    const last = Math.max(...compared.map((c) => c.window));
    const top = compared.filter((c) => c.window === last).sort((a, b) => (b.psi || 0) - (a.psi || 0))[0];
    if (top) histogram(top, hm.querySelector('.cell[data-feature="' + CSS.escape(top.feature) + '"][data-window="' + top.window + '"]').title);
    const maxPSI = d.windows.map((w) => Math.max(0, ...d.features.map((f) => (cells.get(f + "|" + w) || {}).psi || 0)));
    const alertAt = d.windows.map((w, i) => (d.alerts.some((a) => a.time >= w && a.time < (d.windows[i + 1] || Infinity)) ? maxPSI[i] : null));
    plot("chart-maxpsi", ["max PSI", "alert"], [d.windows, maxPSI, alertAt], { series: { alert: { stroke: "#c9352b", width: 0, points: { show: true, size: 9, fill: "#c9352b" } } } });
    const th = (...ts) => el("tr", {}, ...ts.map((t) => el("th", { text: t })));
    $("#drift-alerts").replaceChildren(el("table", {}, th("time", "kind", "value / threshold", "features", "reason"),
      ...d.alerts.map((a) => el("tr", {}, el("td", { text: fmtTime(a.time) }), el("td", { text: a.kind }), el("td", { class: "num", text: fmt(a.value) + " / " + fmt(a.threshold) }),
        el("td", { text: a.features.join(", ") }), el("td", { text: a.reason })))));
    $("#drift-retrains").replaceChildren(el("table", {}, th("time", "step", "champion", "challenger", "reason"),
      ...d.retrains.map((r) => el("tr", {}, el("td", { text: fmtTime(r.time) }), el("td", { text: r.step }),
        el("td", { class: "num", text: r.champion_version ? "v" + r.champion_version + " " + fmt(r.champion_metric) : "" }),
        el("td", { class: "num", text: r.challenger_version ? "v" + r.challenger_version + " " + fmt(r.challenger_metric) : "" }), el("td", { text: r.reason })))));
    state.drawn.drift = { alerts: d.alerts.length, retrains: d.retrains.length };
  }

  // histogram draws a cell's reference and window shares per bin, side by side, on a canvas.
  function histogram(c, title) {
    $("#drift-cell").textContent = title.replace(/\n/g, " · ");
    const canvas = $("#chart-histogram");
    const dpr = devicePixelRatio || 1;
    const w = (canvas.width = Math.max(canvas.clientWidth, 300) * dpr), h = (canvas.height = 220 * dpr);
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    if (!c.bins || !c.bins.length) {
      $("#drift-hist-title").textContent = c.feature + ": no histogram (the window is compared with nothing)";
      state.drawn.histogram = { feature: c.feature, window: c.window, bins: 0 };
      return;
    }
    $("#drift-hist-title").textContent = c.feature + " @ " + fmtTime(c.window) + ": reference (" + fmtTime(c.reference) + ", blue) against this window (red)";
    const left = 40 * dpr, bottom = 34 * dpr, top = 8 * dpr, plotH = h - top - bottom, plotW = w - left - 8 * dpr;
    const ymax = Math.max(0.05, ...c.reference_shares, ...c.window_shares);
    ctx.font = 11 * dpr + "px sans-serif";
    ctx.fillStyle = "#555";
    ctx.strokeStyle = "#ddd";
    for (const f of [0, 0.5, 1]) {
      const y = top + plotH - f * plotH;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.fillText((f * ymax).toFixed(2), 2 * dpr, y + 4 * dpr);
    }
    const slot = plotW / c.bins.length, bar = Math.min(slot * 0.4, 40 * dpr);
    let inked = 0;
    c.bins.forEach((label, i) => {
      const x = left + i * slot + slot / 2;
      [[c.reference_shares[i], "rgba(47,111,219,0.7)", x - bar], [c.window_shares[i], "rgba(217,83,79,0.7)", x]].forEach(([v, colour, x0]) => {
        const bh = (v / ymax) * plotH;
        ctx.fillStyle = colour;
        ctx.fillRect(x0, top + plotH - bh, bar, bh);
        if (bh >= 1) inked++;
      });
      ctx.fillStyle = "#333";
      const text = label.length > 14 ? label.slice(0, 13) + "…" : label;
      ctx.fillText(text, x - ctx.measureText(text).width / 2, h - bottom + 16 * dpr);
    });
    state.drawn.histogram = { feature: c.feature, window: c.window, bins: c.bins.length, labels: c.bins, reference: c.reference_shares, current: c.window_shares, bars: inked };
  }

  // ---- dead letters

  async function deadLetters() {
    const n = $("#dlq-n").value || 20;
    const d = await api("/v1/console/deadletters?n=" + encodeURIComponent(n));
    $("#dlq-summary").textContent = d.total + " records on " + d.topic + "; the latest " + d.scanned + " read" + (d.complete ? "" : " (stopped at the time bound: not all partitions read to their end)");
    const box = $("#dlq");
    box.replaceChildren();
    const reasons = Object.keys(d.reasons).sort();
    for (const r of reasons) {
      const rows = d.reasons[r].map((x) => el("tr", { "data-offset": x.partition + ":" + x.offset },
        el("td", { text: new Date(x.time).toISOString().slice(0, 19) }), el("td", { class: "num", text: x.partition + ":" + x.offset }), el("td", { text: x.key }),
        el("td", {}, el("pre", { text: Object.entries(x.headers).map(([k, v]) => k + ": " + v).join("\n") })),
        el("td", {}, el("pre", { text: x.value + (x.value_cut ? " …" : "") }))));
      box.append(el("div", { class: "panel", "data-reason": r }, el("h3", { text: r + " (" + d.reasons[r].length + ")" }),
        el("table", {}, el("tr", {}, ...["produced", "partition:offset", "key", "headers", "value"].map((t) => el("th", { text: t }))), ...rows)));
    }
    if (!reasons.length) box.append(el("p", { text: "No dead letters." }));
    state.drawn.deadletters = { reasons: Object.fromEntries(reasons.map((r) => [r, d.reasons[r].length])), total: d.total, complete: d.complete };
  }

  // ---- entity

  async function entity(ev) {
    if (ev) ev.preventDefault();
    const id = $("#entity-id").value.trim();
    if (!id) return;
    let fields;
    try { fields = JSON.parse($("#entity-fields").value || "{}"); } catch (e) { status("event fields: " + e.message, true); return; }
    const feats = await api("/v1/features/" + encodeURIComponent(id)).catch((e) => ({ error: e.message, features: {} }));
    const score = await api("/v1/score?explain=1&top=20", { method: "POST", body: JSON.stringify({ id: "console-" + Date.now(), entity: id, fields }) });
    $("#entity-features").replaceChildren(feats.error ? el("p", { class: "error", text: feats.error }) :
      el("table", {}, el("tr", {}, el("th", { text: "feature" }), el("th", { text: "value" })),
        ...Object.keys(feats.features).sort().map((k) => el("tr", {}, el("td", { text: k }), el("td", { class: "num", text: fmt(feats.features[k], 4) })))));
    $("#entity-score").replaceChildren(el("p", {}, "score ", el("b", { text: fmt(score.score, 4) }), " from " + score.model + " v" + score.version + " (" + score.route + ")"));
    const cs = score.contributions || [];
    const top = Math.max(1e-9, ...cs.map((c) => Math.abs(c.contribution)));
    $("#entity-contrib").replaceChildren(...cs.map((c) => {
      const fill = el("div", { class: "fill " + (c.contribution >= 0 ? "pos" : "neg") });
      fill.style.width = (100 * Math.abs(c.contribution)) / top + "%";
      return el("div", { class: "bar", "data-feature": c.feature, "data-contribution": c.contribution, title: "value " + c.value + " × weight " + c.weight },
        el("span", { text: c.feature }), fill, el("span", { class: "num", text: fmt(c.contribution, 4) }));
    }));
    state.drawn.entity = { entity: id, features: Object.keys(feats.features || {}).length, score: score.score, version: score.version, contributions: cs.length };
  }

  // ---- navigation

  const pages = { overview: { load: overview, every: 2000 }, models: { load: models, every: 10000 }, drift: { load: driftPage, every: 15000 },
    deadletters: { load: deadLetters, every: 0 }, entity: { load: null, every: 0 } };

  async function refresh(name) {
    const p = pages[name];
    if (!p.load) return;
    try {
      await p.load();
      state.drawn.loads = (state.drawn.loads || 0) + 1;
      if ($("#status").classList.contains("error") === false) status("updated " + new Date().toLocaleTimeString("en-GB"));
    } catch (e) {
      status(e.message, true);
    }
  }

  function show() {
    const name = (location.hash || "#overview").slice(1).split("?")[0];
    const page = pages[name] ? name : "overview";
    state.page = page;
    document.querySelectorAll(".page").forEach((s) => s.classList.toggle("active", s.id === "page-" + page));
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
    clearInterval(state.timer);
    status("");
    refresh(page);
    if (pages[page].every) state.timer = setInterval(() => { if (!document.hidden) refresh(page); }, pages[page].every);
  }

  async function start() {
    try {
      const resp = await fetch("session.json", { credentials: "same-origin" });
      const s = await resp.json();
      state.session = s;
      state.model = s.model || "";
      if (s.auth_required && !token()) await askToken();
    } catch (e) {
      status("session: " + e.message, true);
    }
    show();
  }

  window.addEventListener("hashchange", show);
  $("#drift-reload").addEventListener("click", () => refresh("drift"));
  $("#drift-stat").addEventListener("change", () => refresh("drift"));
  $("#dlq-reload").addEventListener("click", () => refresh("deadletters"));
  $("#entity-form").addEventListener("submit", (ev) => entity(ev).catch((e) => status(e.message, true)));
  start();
})();
