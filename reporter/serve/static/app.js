// gpureport web page: a chat over /chat/stream, clarification buttons that resume the waiting
// question, the server's conversations (the same as `gpureport ask --session`), past reports.
// No framework, no build step. Every name from the data is put into the page with textContent.
"use strict";

const API = "api/gpu-analysis";  // relative: works at / and at /ui, and behind a path prefix
const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem("gpureport.token") || "",
  sessionId: null,
  busy: false,
  sessions: [],
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

function needToken() {
  $("token-form").hidden = false;
  $("token").focus();
}

// -- numbers -------------------------------------------------------------------------------
const fmt1 = (v) => (v === null || v === undefined) ? "–" : Number(v).toLocaleString(undefined, {maximumFractionDigits: 1, minimumFractionDigits: 1});
const fmt0 = (v) => (v === null || v === undefined) ? "–" : Number(v).toLocaleString(undefined, {maximumFractionDigits: 0});
const signed = (v) => (v === null || v === undefined) ? "–" : (v > 0 ? "+" : v < 0 ? "−" : "") + fmt1(Math.abs(v)) + " pp";
function cell(value, kind) {
  switch (kind) {
    case "pct": return [fmt1(value) + (value === null || value === undefined ? "" : "%"), true];
    case "pp": return [signed(value), true];
    case "gpu_hours": case "int": return [fmt0(value), true];
    case "change": return [Array.isArray(value) ? value.map(fmt0).join(" → ") : String(value), true];
    default: return [value === null || value === undefined ? "" : String(value), typeof value === "number"];
  }
}

// -- answers -------------------------------------------------------------------------------
function tableOf(title, columns, rows) {
  const table = el("table");
  if (title) table.append(el("caption", null, title));
  table.append(el("thead", null, el("tr", null, ...columns.map((c) => el("th", null, c.label)))));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    for (const c of columns) {
      const [text, num] = cell(row[c.key], c.kind);
      tr.append(el("td", num ? {class: "num"} : null, text));
    }
    body.append(tr);
  }
  table.append(body);
  return table;
}

// Until every answer carries its tables, the main figures of an intent are shown as one.
function tablesFromFigures(a) {
  const f = a.figures || {};
  const named = (r, key) => (r.cluster ? r.cluster + "/" : "") + r[key];
  if (a.intent === "ranking" && f.items && f.items.length) {
    return [tableOf(null, [{key: "name", label: "name"}, {key: "gpu_hours", label: "GPU-h", kind: "gpu_hours"},
      {key: "avg_utilization", label: "util %", kind: "pct"}, {key: "idle_gpu_hours", label: "idle GPU-h", kind: "gpu_hours"}],
      f.items.map((r) => Object.assign({}, r, {name: named(r, "name")})))];
  }
  if (a.intent === "drilldown" && f.contributors && f.contributors.length) {
    const src = (f.namespace_drilldown || f).contributors.slice(0, 8);
    return [tableOf(f.namespace_drilldown ? "Inside " + f.namespace_drilldown.namespace : null,
      [{key: "kind", label: "kind"}, {key: "name", label: "name"}, {key: "impact_pp", label: "impact", kind: "pp"},
       {key: "gpu_hours", label: "GPU-h before → after", kind: "change"}, {key: "workloads", label: "workloads", kind: "change"}],
      src.map((c) => ({kind: c.kind, name: c.name, impact_pp: c.impact_pp,
        gpu_hours: [c.gpu_hours_before, c.gpu_hours_after], workloads: [c.workloads_before, c.workloads_after]})))];
  }
  if (a.intent === "realtime" && f.by_namespace && f.by_namespace.length) {
    return [tableOf(null, [{key: "namespace", label: "namespace"}, {key: "allocated_gpus", label: "GPUs", kind: "int"},
      {key: "utilization", label: "util %", kind: "pct"}], f.by_namespace.slice(0, 12))];
  }
  if (a.intent === "compare" && f.a && f.b) {
    return [tableOf(null, [{key: "label", label: ""}, {key: "avg_utilization", label: "util %", kind: "pct"},
      {key: "allocation_rate", label: "allocation %", kind: "pct"}, {key: "gpu_hours", label: "GPU-h", kind: "gpu_hours"}], [f.a, f.b])];
  }
  return [];
}

function sparkline(series, key) {
  const values = series.map((p) => Number(p[key])).filter((v) => Number.isFinite(v));
  if (values.length < 2) return null;
  const w = 420, h = 60, lo = Math.min(...values), hi = Math.max(...values), span = (hi - lo) || 1;
  const points = values.map((v, i) => `${(i / (values.length - 1) * w).toFixed(1)},${(h - 4 - (v - lo) / span * (h - 8)).toFixed(1)}`);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("width", w); svg.setAttribute("height", h);
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${key}: ${fmt1(lo)}–${fmt1(hi)}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#2456c6"); line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}

function renderAnswer(box, a) {
  box.append(el("p", {class: "headline"}, a.answer));
  if (a.needs_clarification && a.options && a.options.length) {
    const opts = el("div", {class: "options", role: "group", "aria-label": "Options"});
    const session = a.session_id;
    for (const option of a.options) {
      const b = el("button", {type: "button"}, option);
      b.addEventListener("click", () => {
        for (const other of opts.querySelectorAll("button")) other.disabled = true;
        // the question waits in its conversation: the choice resumes it
        state.sessionId = session || state.sessionId;
        ask({query: option, resume: option});
      });
      opts.append(b);
    }
    box.append(opts);
    return;
  }
  const f = a.figures || {};
  if (a.intent === "trend" && Array.isArray(f.series)) {
    const s = sparkline(f.series, f.metric === "allocation" ? "allocation_rate" : "avg_utilization");
    if (s) box.append(s);
  }
  const tables = (a.tables || []).filter((t) => t.rows && t.rows.length);
  const shown = tables.length ? tables.map((t) => tableOf(t.title, t.columns, t.rows)) : tablesFromFigures(a);
  const notes = a.notes || [];
  const lines = shown.length ? (a.insights || []).filter((i) => notes.includes(i)) : (a.insights || []);
  if (lines.length) box.append(el("ul", {class: "insights"}, ...lines.map((i) => el("li", null, i))));
  for (const t of shown) box.append(t);
  for (const w of a.warnings || []) box.append(el("p", {class: "warning"}, "⚠ " + w));
  const d = a.debug_info || {};
  box.append(el("p", {class: "meta"}, `${a.intent} · ${d.duration_ms ?? "?"} ms · ${(a.data_collected || []).length} data calls`));
}

// -- the stream ----------------------------------------------------------------------------
async function ask(body, shown) {
  if (state.busy) return;
  state.busy = true; $("send").disabled = true;
  state.intro.hidden = true;
  const messages = $("messages");
  messages.append(el("div", {class: "msg user"}, shown || body.query));
  const box = el("div", {class: "msg bot"});
  const status = el("ul", {class: "status"});
  box.append(status);
  messages.append(box);
  messages.scrollTop = messages.scrollHeight;
  const payload = {query: body.query};
  if (body.cluster_name) payload.cluster_name = body.cluster_name;
  if (state.sessionId) payload.session_id = state.sessionId;
  if (body.resume && state.sessionId) payload.resume = body.resume;
  try {
    const resp = await fetch(API + "/chat/stream", {method: "POST", body: JSON.stringify(payload),
      headers: headers({"Content-Type": "application/json", "Accept": "text/event-stream"})});
    if (resp.status === 401) { needToken(); throw new Error("this server needs an API token"); }
    if (!resp.ok) {
      const err = await resp.json().catch(() => ({}));
      throw new Error(typeof err.detail === "string" ? err.detail : (err.detail || []).map((e) => e.msg).join("; ") || resp.statusText);
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        for (const line of chunk.split("\n")) {
          if (line.startsWith("data: ")) onEvent(JSON.parse(line.slice(6)), box, status);
        }
        messages.scrollTop = messages.scrollHeight;
      }
    }
  } catch (e) {
    box.append(el("p", {class: "error"}, "Error: " + e.message));
  } finally {
    state.busy = false; $("send").disabled = false;
    loadSessions();
  }
}

function onEvent(ev, box, status) {
  if (ev.type === "session") {
    state.sessionId = ev.session_id;
  } else if (ev.type === "status" || ev.type === "data") {
    status.append(el("li", {"data-stage": ev.stage}, ev.message));
  } else if (ev.type === "final") {
    renderAnswer(box, ev);
  } else if (ev.type === "error") {
    box.append(el("p", {class: "error"}, ev.error_message));
  }
}

// -- conversations: the server's (the threads of `gpureport ask --session`) ------------------
const conversationUrl = (id) => API + "/storage/conversations/" + encodeURIComponent(id);

async function loadSessions() {
  const resp = await fetch(API + "/storage/conversations?limit=50", {headers: headers()});
  if (resp.status === 401) { needToken(); return; }
  if (!resp.ok) return;
  state.sessions = (await resp.json()).conversations;
  drawSessions();
}

function drawSessions() {
  const list = $("sessions");
  list.replaceChildren();
  for (const s of state.sessions) {
    const name = s.name || s.session_id;
    const open = el("button", {type: "button", class: "open", title: name}, name);
    if (s.session_id === state.sessionId) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => openConversation(s.session_id));
    const del = el("button", {type: "button", class: "delete", title: "Delete this conversation",
                              "aria-label": "Delete " + name}, "×");
    del.addEventListener("click", () => deleteConversation(s.session_id));
    list.append(el("li", {"data-session": s.session_id}, open, del));
  }
  $("no-sessions").hidden = state.sessions.length > 0;
}

async function openConversation(id) {
  if (state.busy) return;
  show("ask");
  const resp = await fetch(conversationUrl(id), {headers: headers()});
  const messages = $("messages");
  if (resp.status === 401) { needToken(); return; }
  if (!resp.ok) {
    messages.replaceChildren(el("p", {class: "error"}, resp.status === 404 ? "That conversation no longer exists." : "Could not open the conversation."));
    loadSessions();
    return;
  }
  const conv = await resp.json();
  state.sessionId = conv.session_id;
  messages.replaceChildren();
  for (const m of conv.messages) {
    if (m.role === "user") messages.append(el("div", {class: "msg user"}, m.content));
    else messages.append(el("div", {class: "msg bot past"}, el("p", {class: "headline"}, m.content),
      el("p", {class: "meta"}, (m.timestamp || "").slice(0, 16).replace("T", " "))));
  }
  if (conv.metadata && conv.metadata.waiting) {
    messages.append(el("p", {class: "muted"}, "This conversation is waiting for your choice: type it, or its number."));
  }
  messages.scrollTop = messages.scrollHeight;
  drawSessions();
  $("query").focus();
}

async function deleteConversation(id) {
  const resp = await fetch(conversationUrl(id), {method: "DELETE", headers: headers()});
  if (resp.status === 401) { needToken(); return; }
  if (id === state.sessionId) newConversation();
  loadSessions();
}

function newConversation() {
  state.sessionId = null;
  $("messages").replaceChildren(state.intro);
  state.intro.hidden = false;
  drawSessions();
}

// -- reports -------------------------------------------------------------------------------
async function loadReports() {
  const body = document.querySelector("#reports tbody");
  body.replaceChildren();
  const resp = await fetch(API + "/reports?limit=100", {headers: headers()});
  if (resp.status === 401) { needToken(); return; }
  if (!resp.ok) { body.append(el("tr", null, el("td", {colspan: "6", class: "error"}, "Could not list reports"))); return; }
  const data = await resp.json();
  $("reports-empty").hidden = data.reports.length > 0;
  for (const r of data.reports) {
    const links = el("td");
    for (const [fmt, url] of Object.entries(r.files || {})) {
      links.append(el("a", {href: url, target: "_blank", rel: "noopener"}, fmt.toUpperCase()));
    }
    if (!links.childNodes.length) links.append(el("span", {class: "muted"}, "not kept"));
    const period = `${(r.period_start || "").slice(0, 16).replace("T", " ")} → ${(r.period_end || "").slice(0, 16).replace("T", " ")}`;
    body.append(el("tr", null, el("td", {class: "num"}, "#" + r.id), el("td", null, r.schedule), el("td", null, period),
      el("td", null, r.status + (r.dry_run ? " (dry run)" : "")), el("td", null, (r.finished_at || "").slice(0, 19).replace("T", " ")), links));
  }
}

function show(view) {
  for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-selected", String(b.dataset.view === view));
  $("view-ask").hidden = view !== "ask";
  $("view-reports").hidden = view !== "reports";
  if (view === "reports") loadReports();
}

async function loadExamples() {
  const resp = await fetch(API + "/capabilities", {headers: headers()});
  if (!resp.ok) { if (resp.status === 401) needToken(); return; }
  const caps = await resp.json();
  const list = $("examples");
  list.replaceChildren();
  for (const c of caps.capabilities.filter((c) => c.type !== "help").slice(0, 6)) {
    const b = el("button", {type: "button"}, c.examples[0]);
    b.addEventListener("click", () => { $("query").value = c.examples[0]; $("query").focus(); });
    list.append(el("li", null, b));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  state.intro = $("intro");
  $("ask-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const query = $("query").value.trim();
    if (!query) return;
    $("query").value = "";
    ask({query, cluster_name: $("cluster").value.trim() || null});
  });
  $("query").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
  });
  $("new-chat").addEventListener("click", newConversation);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("token").value;
    sessionStorage.setItem("gpureport.token", state.token);
    $("token-form").hidden = true;
    loadExamples();
    loadSessions();
  });
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.view));
  loadExamples();
  loadSessions();
});
