// The pages other than the overview: jobs by queue and state (paged by cursor), a job's
// history, workers, dead letters, schedules and workflows. Each reads the REST API and acts
// through it, with the helpers of dashboard.js.
"use strict";

/// A queue's jobs in one state, a page at a time by cursor: each page asks for the jobs after
/// the last one shown, which costs the same on the first page of a million jobs as on the
/// last. "Previous" is the browser's back: each page is its own address.
async function jobsPage(params) {
  const queues = live.queues.length ? live.queues : (await api("GET", "/v1/queues")).queues;
  const queue = params.get("queue") || (queues[0] && queues[0].queue) || "default";
  const state = params.get("state") || "QUEUED";
  const cursor = params.get("cursor") || "";
  const number = Math.max(1, parseInt(params.get("page") || "1", 10));
  const go = (q, s, c, n) => {
    location.hash = "#/jobs?queue=" + encodeURIComponent(q) + "&state=" + s + (c ? "&cursor=" + encodeURIComponent(c) + "&page=" + n : "");
  };
  const queueSelect = el("select", { id: "queue", onchange: (e) => go(e.target.value, state) },
    queues.map((q) => el("option", { value: q.queue, selected: q.queue === queue }, q.queue)));
  const stateSelect = el("select", { id: "state", onchange: (e) => go(queue, e.target.value) },
    STATES.map((s) => el("option", { value: s, selected: s === state }, s)));
  const search = el("input", { id: "search", placeholder: "job id", size: 30 });
  const form = el("form", { onsubmit: (e) => { e.preventDefault(); location.hash = "#/job/" + encodeURIComponent(search.value.trim()); } },
    search, el("button", { class: "action", type: "submit" }, "Open"));
  const page = await api("GET", "/v1/queues/" + encodeURIComponent(queue) + "/jobs?state=" + state + "&limit=" + PAGE_SIZE
    + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
  // Delayed and retrying jobs: when each becomes due.
  const due = state === "SCHEDULED" || state === "RETRY_QUEUED";
  const rows = page.jobs.map((job) => el("tr", {},
    el("td", {}, link("#/job/" + job.id + "?queue=" + encodeURIComponent(job.queue), job.id)),
    el("td", {}, job.type), el("td", {}, badge(job.state)), el("td", { class: "num" }, String(job.attempt)),
    el("td", {}, time(job.history.length ? job.history[job.history.length - 1].at : 0)),
    due ? el("td", { class: "due" }, time(job.runAt)) : null,
    el("td", { class: "muted" }, job.error || "")));
  const counts = queues.find((q) => q.queue === queue);
  const total = counts ? counts[COUNT_FIELDS[state]] || 0 : 0;
  const pager = el("div", { class: "toolbar", id: "pager" },
    number > 1 ? actionButton("First page", () => go(queue, state)) : null,
    number > 1 ? actionButton("← Previous", () => history.back()) : null,
    el("span", { class: "muted" }, page.jobs.length ? "page " + number + " of " + total.toLocaleString() + " " + state + " jobs" : "no jobs"),
    page.next ? actionButton("Next →", () => go(queue, state, page.next, number + 1)) : null);
  show(el("h1", {}, "Jobs"), el("div", { class: "toolbar" }, queueSelect, stateSelect, form),
    el("table", { id: "jobs" }, el("thead", {}, el("tr", {},
      ["Id", "Type", "State", "Attempt", "Last change"].concat(due ? ["Due"] : [], ["Error"]).map((h) => el("th", {}, h)))),
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
  renderLive = (what) => what.has("workers") && render();
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

