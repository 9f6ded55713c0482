// Drover's dashboard: one page, no framework, no build step. Every value from a job (payloads,
// results, errors, names) is user data and is only ever set as text, never parsed as HTML.
"use strict";

const STATES = ["SCHEDULED", "WAITING", "QUEUED", "ASSIGNED", "RUNNING", "RETRY_QUEUED", "COMPLETED", "DEAD_LETTER", "CANCELLED"];
const COUNT_FIELDS = {
  SCHEDULED: "scheduled", WAITING: "waiting", QUEUED: "queued", ASSIGNED: "assigned", RUNNING: "running",
  RETRY_QUEUED: "retryQueued", COMPLETED: "completed", DEAD_LETTER: "deadLetter", CANCELLED: "cancelled",
};
const PAGE_SIZE = 50;
const live = { queues: [], workers: [], samples: [] };
let renderLive = null;

// ---- Elements, always built from text ----------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(state) { return el("span", { class: "badge " + state }, state || "expired"); }
function link(href, text) { return el("a", { href }, text); }
function time(ms) { return ms ? new Date(ms).toLocaleString() : "—"; }
function duration(ms) {
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
}
function pretty(json) {
  if (json === undefined || json === null) return "—";
  try { return JSON.stringify(typeof json === "string" ? JSON.parse(json) : json, null, 2); } catch { return String(json); }
}
function toast(message, isError) {
  const note = el("div", { class: isError ? "error" : "" }, message);
  document.getElementById("toast").append(note);
  setTimeout(() => note.remove(), isError ? 8000 : 3000);
}
function show(...nodes) {
  const page = document.getElementById("page");
  page.replaceChildren(...nodes);
}

// ---- The REST API, with the session cookie and the CSRF header ----------------------------

function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("drover_csrf="));
  return found ? found.slice("drover_csrf=".length) : "";
}

async function api(method, path, body) {
  const headers = { "X-Drover-CSRF": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) { location.href = "/ui/login"; throw new Error("not logged in"); }
  const text = await response.text();
  const value = text ? JSON.parse(text) : {};
  if (!response.ok) throw new Error(value.error ? value.error.message : response.status + " " + response.statusText);
  return value;
}

/// Runs an action, tells how it went, then shows the page again.
async function act(label, method, path, body) {
  try {
    await api(method, path, body);
    toast(label);
  } catch (error) {
    toast(label + " failed: " + error.message, true);
  }
  route();
}

function actionButton(label, onClick, danger) {
  return el("button", { class: "action" + (danger ? " danger" : ""), type: "button", onclick: onClick }, label);
}

// ---- Live updates -----------------------------------------------------------------------

function connectEvents() {
  const dot = document.getElementById("live");
  const events = new EventSource("/ui/events");
  events.addEventListener("open", () => dot.classList.add("on"));
  events.addEventListener("error", () => dot.classList.remove("on"));
  events.addEventListener("queues", (event) => {
    live.queues = JSON.parse(event.data).queues;
    const totals = live.queues.reduce((t, q) => ({ completed: t.completed + q.completed, dead: t.dead + q.deadLetter }), { completed: 0, dead: 0 });
    live.samples.push({ at: Date.now(), ...totals });
    if (live.samples.length > 900) live.samples.shift();
    if (renderLive) renderLive();
  });
  events.addEventListener("workers", (event) => { live.workers = JSON.parse(event.data).workers; });
}

// ---- Pages --------------------------------------------------------------------------------

function queueTable(queues) {
  const head = el("tr", {}, el("th", {}, "Queue"), el("th", {}, "State"), STATES.map((s) => el("th", { class: "num" }, s)), el("th", {}, ""));
  const rows = queues.map((q) =>
    el("tr", { "data-queue": q.queue },
      el("td", {}, link("#/jobs?queue=" + encodeURIComponent(q.queue) + "&state=QUEUED", q.queue)),
      el("td", {}, q.paused ? badge("PAUSED") : "running"),
      STATES.map((s) => el("td", { class: "num", "data-state": s },
        link("#/jobs?queue=" + encodeURIComponent(q.queue) + "&state=" + s, String(q[COUNT_FIELDS[s]] || 0)))),
      el("td", {}, q.paused
        ? actionButton("Resume", () => act("Resumed " + q.queue, "POST", "/v1/queues/" + encodeURIComponent(q.queue) + "/resume"))
        : actionButton("Pause", () => act("Paused " + q.queue, "POST", "/v1/queues/" + encodeURIComponent(q.queue) + "/pause")))));
  return el("table", { id: "queues" }, el("thead", {}, head), el("tbody", {}, rows));
}

/// Completed and dead-lettered jobs per second, from the counts the live stream brings.
function drawRates(canvas) {
  const context = canvas.getContext("2d");
  const width = (canvas.width = canvas.clientWidth);
  const height = (canvas.height = canvas.clientHeight);
  context.clearRect(0, 0, width, height);
  const rates = [];
  for (let i = 1; i < live.samples.length; i++) {
    const a = live.samples[i - 1], b = live.samples[i];
    const seconds = Math.max(0.001, (b.at - a.at) / 1000);
    rates.push({ completed: Math.max(0, b.completed - a.completed) / seconds, dead: Math.max(0, b.dead - a.dead) / seconds });
  }
  const top = Math.max(1, ...rates.map((r) => r.completed), ...rates.map((r) => r.dead));
  for (const [key, colour] of [["completed", "#1f8a4c"], ["dead", "#c0392b"]]) {
    context.strokeStyle = colour;
    context.beginPath();
    rates.forEach((r, i) => {
      const x = width - (rates.length - 1 - i) * (width / 900);
      const y = height - 4 - (r[key] / top) * (height - 20);
      if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
    });
    context.stroke();
  }
  context.fillStyle = "#65707b";
  context.fillText("max " + top.toFixed(1) + " jobs/s (green completed, red dead-lettered)", 6, 12);
}

async function overviewPage() {
  const table = el("div", {});
  const canvas = el("canvas", { id: "rates" });
  const render = () => {
    table.replaceChildren(queueTable(live.queues));
    drawRates(canvas);
  };
  if (live.queues.length === 0) live.queues = (await api("GET", "/v1/queues")).queues;
  show(el("h1", {}, "Overview"), el("h2", {}, "Queues"), table, el("h2", {}, "Throughput since this page opened"), canvas);
  render();
  renderLive = render;
}

async function jobsPage(params) {
  const queues = live.queues.length ? live.queues : (await api("GET", "/v1/queues")).queues;
  const queue = params.get("queue") || (queues[0] && queues[0].queue) || "default";
  const state = params.get("state") || "QUEUED";
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10));
  const go = (q, s, o) => { location.hash = "#/jobs?queue=" + encodeURIComponent(q) + "&state=" + s + "&offset=" + o; };
  const queueSelect = el("select", { id: "queue", onchange: (e) => go(e.target.value, state, 0) },
    queues.map((q) => el("option", { value: q.queue, selected: q.queue === queue }, q.queue)));
  const stateSelect = el("select", { id: "state", onchange: (e) => go(queue, e.target.value, 0) },
    STATES.map((s) => el("option", { value: s, selected: s === state }, s)));
  const search = el("input", { id: "search", placeholder: "job id", size: 30 });
  const form = el("form", { onsubmit: (e) => { e.preventDefault(); location.hash = "#/job/" + encodeURIComponent(search.value.trim()); } },
    search, el("button", { class: "action", type: "submit" }, "Open"));
  const page = await api("GET", "/v1/queues/" + encodeURIComponent(queue) + "/jobs?state=" + state + "&offset=" + offset + "&limit=" + PAGE_SIZE);
  const rows = page.jobs.map((job) => el("tr", {},
    el("td", {}, link("#/job/" + job.id + "?queue=" + encodeURIComponent(job.queue), job.id)),
    el("td", {}, job.type), el("td", {}, badge(job.state)), el("td", { class: "num" }, String(job.attempt)),
    el("td", {}, time(job.history.length ? job.history[job.history.length - 1].at : 0)),
    el("td", { class: "muted" }, job.error || "")));
  const pager = el("div", { class: "toolbar" },
    offset > 0 ? actionButton("← Newer", () => go(queue, state, Math.max(0, offset - PAGE_SIZE))) : null,
    el("span", { class: "muted" }, page.jobs.length ? "jobs " + (offset + 1) + "–" + (offset + page.jobs.length) : "no jobs"),
    page.jobs.length === PAGE_SIZE ? actionButton("Older →", () => go(queue, state, offset + PAGE_SIZE)) : null);
  show(el("h1", {}, "Jobs"), el("div", { class: "toolbar" }, queueSelect, stateSelect, form),
    el("table", { id: "jobs" }, el("thead", {}, el("tr", {}, ["Id", "Type", "State", "Attempt", "Last change", "Error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)), pager);
}

async function jobPage(id, params) {
  const queue = params.get("queue");
  const job = await api("GET", "/v1/jobs/" + encodeURIComponent(id) + (queue ? "?queue=" + encodeURIComponent(queue) : ""));
  const q = encodeURIComponent(job.queue);
  const actions = el("div", { class: "toolbar" },
    job.state === "DEAD_LETTER" ? actionButton("Retry", () => act("Retried " + job.id, "POST", "/v1/dead-letters/" + job.id + "/retry?queue=" + q)) : null,
    ["COMPLETED", "DEAD_LETTER", "CANCELLED"].includes(job.state) ? null
      : actionButton("Cancel", () => act("Cancel asked for " + job.id, "POST", "/v1/jobs/" + job.id + "/cancel?queue=" + q), true));
  const facts = [["Queue", job.queue], ["Type", job.type], ["State", badge(job.state)],
    ["Attempt", job.attempt + " of " + job.maxAttempts + (job.attemptBase ? " (retried by an operator after " + job.attemptBase + ")" : "")],
    ["Worker", job.worker || "—"], ["Priority", String(job.priority || 0)], ["Error", job.error || "—"]];
  if (job.workflow) facts.push(["Workflow", link("#/workflow/" + job.workflow.workflow + "?queue=" + q, job.workflow.workflow + " (" + job.workflow.name + ")")]);
  // The history as a timeline: each step with how long the job stayed in the one before.
  const rows = job.history.map((step, i) => {
    const next = job.history[i + 1];
    return el("tr", {}, el("td", { class: "num" }, String(step.attempt)), el("td", {}, badge(step.state)), el("td", {}, time(step.at)),
      el("td", { class: "num" }, next ? duration(next.at - step.at) : "—"), el("td", {}, step.worker || ""), el("td", { class: "muted" }, step.error || ""));
  });
  show(el("h1", {}, "Job ", job.id), actions,
    el("dl", { class: "grid" }, facts.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el("h2", {}, "Payload"), el("pre", { id: "payload" }, pretty(job.payload)),
    el("h2", {}, "Result"), el("pre", { id: "result" }, pretty(job.result)),
    el("h2", {}, "History"),
    el("table", { id: "history" }, el("thead", {}, el("tr", {}, ["Attempt", "State", "At", "Stayed", "Worker", "Error"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
}

async function workersPage() {
  const render = () => {
    const rows = live.workers.map((w) => el("tr", {}, el("td", {}, w.id), el("td", {}, w.host + " / " + w.pid), el("td", {}, w.queues.join(", ")),
      el("td", { class: "num" }, w.inFlight + " / " + w.concurrency), el("td", {}, time(w.lastHeartbeat)), el("td", {}, w.version)));
    show(el("h1", {}, "Workers"), el("table", { id: "workers" },
      el("thead", {}, el("tr", {}, ["Id", "Host / pid", "Queues", "In flight", "Last heartbeat", "Version"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
  };
  live.workers = (await api("GET", "/v1/workers")).workers;
  render();
  renderLive = render;
}

async function deadPage(params) {
  const queue = params.get("queue") || "";
  const offset = Math.max(0, parseInt(params.get("offset") || "0", 10));
  const query = "?offset=" + offset + "&limit=" + PAGE_SIZE + (queue ? "&queue=" + encodeURIComponent(queue) : "");
  const page = await api("GET", "/v1/dead-letters" + query);
  const retryAll = async () => {
    if (!confirm("Retry the " + page.jobs.length + " dead letters shown?")) return;
    for (const job of page.jobs) await api("POST", "/v1/dead-letters/" + job.id + "/retry?queue=" + encodeURIComponent(job.queue)).catch((e) => toast(e.message, true));
    toast("Retried " + page.jobs.length + " jobs");
    route();
  };
  const purge = () => {
    if (confirm("Delete every dead letter" + (queue ? " of " + queue : "") + " for good?")) {
      act("Purged dead letters", "DELETE", "/v1/dead-letters" + (queue ? "?queue=" + encodeURIComponent(queue) : ""));
    }
  };
  const rows = page.jobs.map((job) => el("tr", {},
    el("td", {}, link("#/job/" + job.id + "?queue=" + encodeURIComponent(job.queue), job.id)), el("td", {}, job.queue), el("td", {}, job.type),
    el("td", { class: "muted" }, job.error || ""),
    el("td", {}, actionButton("Retry", () => act("Retried " + job.id, "POST", "/v1/dead-letters/" + job.id + "/retry?queue=" + encodeURIComponent(job.queue))))));
  show(el("h1", {}, "Dead letters"),
    el("div", { class: "toolbar" }, page.jobs.length ? actionButton("Retry all shown", retryAll) : null,
      page.jobs.length ? actionButton("Purge", purge, true) : el("span", { class: "muted" }, "No dead letters.")),
    el("table", { id: "dead" }, el("thead", {}, el("tr", {}, ["Id", "Queue", "Type", "Error", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
}

async function schedulesPage() {
  const { schedules } = await api("GET", "/v1/schedules");
  const rows = schedules.map((s) => el("tr", {}, el("td", {}, s.name), el("td", {}, s.cron + " (" + s.timeZone + ")"), el("td", {}, s.job.queue + " / " + s.job.type),
    el("td", {}, s.paused ? badge("PAUSED") : time(s.nextFireAt)), el("td", { class: "num" }, String(s.firings || 0)),
    el("td", {}, actionButton(s.paused ? "Resume" : "Pause",
      () => act((s.paused ? "Resumed " : "Paused ") + s.name, "POST", "/v1/schedules/" + encodeURIComponent(s.name) + (s.paused ? "/resume" : "/pause"))))));
  show(el("h1", {}, "Schedules"), schedules.length ? el("table", { id: "schedules" },
    el("thead", {}, el("tr", {}, ["Name", "Cron", "Job", "Next firing", "Firings", ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))
    : el("p", { class: "muted" }, "No cron schedules."));
}

function workflowsPage() {
  const input = el("input", { id: "workflow-id", placeholder: "workflow or batch id", size: 30 });
  show(el("h1", {}, "Workflows"),
    el("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); location.hash = "#/workflow/" + encodeURIComponent(input.value.trim()); } },
      input, el("button", { class: "action", type: "submit" }, "Show")),
    el("p", { class: "muted" }, "A workflow's id is printed by drover workflow submit and on every job of it."));
}

async function workflowPage(id, params) {
  const queue = params.get("queue");
  const w = await api("GET", "/v1/workflows/" + encodeURIComponent(id) + (queue ? "?queue=" + encodeURIComponent(queue) : ""));
  // Each job in the layer after its deepest parent: the graph read top to bottom.
  const depth = {};
  for (const job of w.jobs) depth[job.name] = Math.max(-1, ...job.dependsOn.map((p) => depth[p] ?? -1)) + 1;
  const layers = [];
  for (const job of w.jobs) (layers[depth[job.name]] = layers[depth[job.name]] || []).push(job);
  const node = (job) => el("a", { class: "node", href: "#/job/" + job.id + "?queue=" + encodeURIComponent(w.queue), title: job.dependsOn.length ? "after " + job.dependsOn.join(", ") : "" },
    job.name + " ", badge(job.state));
  show(el("h1", {}, (w.batch ? "Batch " : "Workflow ") + w.id), el("p", {}, w.name || "", " ", badge(w.state), w.batch ? " " + w.batch : ""),
    el("div", { id: "graph" }, layers.map((layer) => el("div", { class: "layer" }, layer.map(node)))),
    actionButton("Cancel the workflow", () => confirm("Cancel every unfinished job of it?") && act("Cancelled", "POST", "/v1/workflows/" + w.id + "/cancel?queue=" + encodeURIComponent(w.queue)), true));
}

// ---- Routing ------------------------------------------------------------------------------

async function route() {
  renderLive = null;
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const name = parts[0] || "overview";
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("current", a.dataset.page === (name === "job" ? "jobs" : name === "workflow" ? "workflows" : name));
  try {
    switch (name) {
      case "overview": await overviewPage(); break;
      case "jobs": await jobsPage(params); break;
      case "job": await jobPage(parts[1], params); break;
      case "workers": await workersPage(); break;
      case "dead": await deadPage(params); break;
      case "schedules": await schedulesPage(); break;
      case "workflows": workflowsPage(); break;
      case "workflow": await workflowPage(parts[1], params); break;
      default: show(el("p", {}, "No such page."));
    }
  } catch (error) {
    show(el("h1", {}, "Something went wrong"), el("p", { class: "error" }, error.message));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", async () => {
    await fetch("/ui/logout", { method: "POST", headers: { "X-Drover-CSRF": csrfToken() }, credentials: "same-origin" });
    location.href = "/ui/login";
  });
  window.addEventListener("hashchange", route);
  connectEvents();
  route();
});
