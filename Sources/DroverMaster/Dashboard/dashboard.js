// Drover's dashboard: one page, no framework, no build step. This file holds what every page
// uses (elements, the REST API, the live stream, routing); overview.js and pages.js the pages.
// Every value from a job (payloads, results, errors, names) is user data and is only ever set
// as text, never parsed as HTML.
"use strict";

const STATES = ["SCHEDULED", "WAITING", "QUEUED", "ASSIGNED", "RUNNING", "RETRY_QUEUED", "COMPLETED", "DEAD_LETTER", "CANCELLED"];
const COUNT_FIELDS = {
  SCHEDULED: "scheduled", WAITING: "waiting", QUEUED: "queued", ASSIGNED: "assigned", RUNNING: "running",
  RETRY_QUEUED: "retryQueued", COMPLETED: "completed", DEAD_LETTER: "deadLetter", CANCELLED: "cancelled",
};
const PAGE_SIZE = 50;
// What the live stream brought: queue counts, workers, and each queue's throughput samples
// (lifetime counters once a second, oldest first, the last 15 minutes). `renders` counts the
// redraws it caused and the time they took, for the browser test's responsiveness check.
const live = { queues: [], workers: [], throughput: {}, windowMs: 900000, renders: { count: 0, ms: 0 } };
// The page's redraw for live data: called with the set of what changed ("queues",
// "throughput", "workers") at most every RENDER_GAP_MS, however often the data arrives, so a
// busy system costs the page a few small redraws a second.
let renderLive = null;
const RENDER_GAP_MS = 250;
const changed = new Set();
let renderScheduled = false;
let lastRender = 0;

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

// A browser keeps six connections to one server over HTTP/1.1, and each open stream holds
// one: a page holds its stream only while it is shown, so hidden tabs and pages kept for the
// back button leave the connections to the pages in use.
let events = null;

function connectEvents() {
  if (events) return;
  const dot = document.getElementById("live");
  events = new EventSource("/ui/events");
  events.addEventListener("open", () => dot.classList.add("on"));
  events.addEventListener("error", () => dot.classList.remove("on"));
  events.addEventListener("queues", (event) => onQueues(JSON.parse(event.data).queues));
  events.addEventListener("throughput", (event) => addSamples(JSON.parse(event.data)));
  events.addEventListener("workers", (event) => {
    live.workers = JSON.parse(event.data).workers;
    scheduleRender("workers");
  });
}

function disconnectEvents() {
  if (!events) return;
  events.close();
  events = null;
  document.getElementById("live").classList.remove("on");
}

/// The samples taken since the newest this page has (all of them at first), then the stream:
/// when the page opens, and when it is shown again.
function resumeEvents() {
  const newest = Math.max(0, ...Object.values(live.throughput).map((s) => (s.length ? s[s.length - 1].at : 0)));
  api("GET", "/v1/throughput" + (newest ? "?since=" + newest : "")).then(addSamples, () => {});
  connectEvents();
}

/// New counts: drawn with the next redraw, however many arrive before it.
function onQueues(queues) {
  live.queues = queues;
  scheduleRender("queues");
}

/// Samples from /v1/throughput or the stream, kept per queue in order without repeats.
function addSamples(answer) {
  if (answer.windowSeconds) live.windowMs = answer.windowSeconds * 1000;
  for (const { queue, samples } of answer.queues) {
    const kept = live.throughput[queue] || (live.throughput[queue] = []);
    for (const sample of samples) if (!kept.length || sample.at > kept[kept.length - 1].at) kept.push(sample);
    const oldest = Date.now() - live.windowMs - 60000;
    while (kept.length && kept[0].at < oldest) kept.shift();
  }
  scheduleRender("throughput");
}

function scheduleRender(what) {
  changed.add(what);
  if (renderScheduled || !renderLive) return;
  renderScheduled = true;
  setTimeout(() => requestAnimationFrame(() => {
    renderScheduled = false;
    if (!renderLive) return changed.clear();
    const started = performance.now();
    const what = new Set(changed);
    changed.clear();
    renderLive(what);
    lastRender = performance.now();
    live.renders.count += 1;
    live.renders.ms += lastRender - started;
  }), Math.max(0, lastRender + RENDER_GAP_MS - performance.now()));
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
  document.addEventListener("visibilitychange", () => (document.hidden ? disconnectEvents() : resumeEvents()));
  window.addEventListener("pagehide", disconnectEvents);
  window.addEventListener("pageshow", (event) => event.persisted && resumeEvents());
  resumeEvents();
  route();
});
