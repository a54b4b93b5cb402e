// An execution's page: its header (state, flow, labels, times, kill/restart/replay) and four
// tabs as links — Gantt, logs, outputs, topology. Live while it runs: the execution is
// followed over SSE and each tab updates in place.

import { api, events, ApiError } from "../api.js";
import { go } from "../app.js";
import { el, stateBadge, labels as labelChips, errorBox } from "../dom.js";
import { drawGantt, isEnded } from "../gantt.js";
import { useCss, esc, execHref, fmtTime, liveDuration } from "./exec-common.js";

const TABS = [["gantt", "Gantt"], ["logs", "Logs"], ["outputs", "Outputs"], ["topology", "Topology"]];
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

export async function render(main, params, query) {
  await useCss("executions.css");
  const { executionId: id } = params;
  const tab = TABS.some(([t]) => t === params.tab) ? params.tab : "gantt";
  let exec;
  try {
    exec = await api(`executions/${encodeURIComponent(id)}`);
  } catch (e) {
    main.append(el("h1", {}, "Execution"), errorBox(e));
    return;
  }
  const abort = new AbortController();
  const cleanups = [() => abort.abort()];

  const head = el("div", { "data-testid": "execution-header" });
  const message = el("div", { role: "status", "aria-live": "polite" });
  const nav = el("nav", { class: "tabs", "aria-label": "Execution views", "data-testid": "execution-tabs" },
    TABS.map(([t, name]) => el("a", { href: execHref(exec, t), "aria-current": t === tab ? "page" : null, "data-testid": `tab-${t}` }, name)));
  const body = el("section", { "data-testid": `tab-panel-${tab}` });
  // Why it failed, on every tab: the first error logged.
  const failure = el("div", { "data-testid": "execution-error" });
  main.append(head, failure, message, nav, body);
  let failureShown = false;
  async function showFailure() {
    const st = exec.state.current;
    if (failureShown || !(st === "FAILED" || st === "KILLED")) return;
    failureShown = true;
    try {
      const lines = await api(`logs/${encodeURIComponent(id)}?minLevel=ERROR`);
      const first = (lines || [])[0];
      if (first) {
        failure.replaceChildren(el("div", { class: "error", role: "alert" },
          first.taskId ? el("strong", {}, `${first.taskId}: `) : null, first.message));
      }
    } catch { /* the header still says FAILED */ }
  }
  showFailure();

  const ctx = { id, query, signal: abort.signal, onCleanup: (f) => cleanups.push(f) };
  const view = await ({ gantt, logs, outputs, topology })[tab](body, exec, ctx);

  function drawHead() {
    head.replaceChildren(header(exec, { message, onReplay: replayTo }));
  }
  async function replayTo(taskRunId) {
    try {
      const q = taskRunId ? `?taskRunId=${encodeURIComponent(taskRunId)}` : "";
      const fresh = await api(`executions/${encodeURIComponent(id)}/replay${q}`, { method: "POST" });
      go(execHref(fresh, tab));
    } catch (e) {
      message.replaceChildren(errorBox(e));
    }
  }
  drawHead();

  function update(next) {
    exec = next;
    drawHead();
    showFailure();
    view?.update?.(exec);
  }
  ctx.refresh = async () => update(await api(`executions/${encodeURIComponent(id)}`));

  // Live: every change of the execution arrives on its follow stream, which ends with it.
  (async () => {
    if (isEnded(exec.state.current)) return;
    try {
      for await (const ev of events(`/api/v1/executions/${encodeURIComponent(id)}/follow`, abort.signal)) {
        if (ev.event !== "message" || !ev.data) continue;
        try { update(JSON.parse(ev.data)); } catch { /* a partial event: the next one repairs it */ }
      }
    } catch { /* aborted on leaving the page */ }
  })();
  // Durations of running things grow even when nothing changes.
  const tick = setInterval(() => {
    if (!isEnded(exec.state.current) && document.visibilityState === "visible") {
      const d = head.querySelector('[data-testid="execution-duration"]');
      if (d) d.textContent = liveDuration(exec.state);
      view?.tick?.(exec);
    }
  }, 1000);
  cleanups.push(() => clearInterval(tick));

  return () => {
    for (const f of cleanups) f();
    view?.cleanup?.();
  };
}

function header(exec, { message, onReplay }) {
  const st = exec.state.current;
  const ended = isEnded(st);
  const flowHref = `/ui/flows/${encodeURIComponent(exec.namespace)}/${encodeURIComponent(exec.flowId)}`;
  const act = async (btn, method, path, after) => {
    btn.disabled = true;
    message.replaceChildren();
    try {
      const res = await api(path, { method });
      await after(res);
    } catch (e) {
      message.replaceChildren(errorBox(e));
    } finally {
      btn.disabled = false;
    }
  };
  const actions = el("div", { class: "actions" });
  if (!ended) {
    const kill = el("button", { type: "button", class: "danger", "data-testid": "kill" }, "Kill");
    kill.addEventListener("click", () => {
      if (confirm(`Kill execution ${exec.id}?`)) act(kill, "DELETE", `executions/${encodeURIComponent(exec.id)}/kill`, () => {});
    });
    actions.append(kill);
  }
  if (st === "FAILED" || st === "KILLED") {
    const restart = el("button", { type: "button", "data-testid": "restart", title: "Run again from the failed task runs" }, "Restart");
    restart.addEventListener("click", () => act(restart, "POST", `executions/${encodeURIComponent(exec.id)}/restart`, () => go(location.pathname + location.search, { replace: true })));
    actions.append(restart);
  }
  if (ended) {
    const pick = el("select", { "aria-label": "Replay from task run", "data-testid": "replay-from" },
      el("option", { value: "" }, "from the start"),
      (exec.taskRunList || []).map((r) => el("option", { value: r.id }, `from ${r.taskId}${r.value != null ? ` [${r.value}]` : ""}`)));
    const replay = el("button", { type: "button", "data-testid": "replay" }, "Replay");
    replay.addEventListener("click", async () => {
      replay.disabled = true;
      await onReplay(pick.value);
      replay.disabled = false;
    });
    actions.append(pick, replay);
  }
  const item = (name, value, testid, cls) => el("div", { class: cls }, el("dt", {}, name), el("dd", { "data-testid": testid }, value));
  return el("div", {},
    el("div", { class: "page-head" },
      el("h1", {}, el("span", { "data-testid": "execution-state" }, stateBadge(st)),
        el("a", { href: flowHref, "data-testid": "execution-flow" }, `${exec.namespace}.${exec.flowId}`),
        el("span", { class: "mono", "data-testid": "execution-id" }, exec.id)),
      actions),
    el("dl", { class: "meta" },
      item("Start", fmtTime(exec.state.startDate), "execution-start"),
      item("End", ended ? fmtTime(exec.state.endDate) : "—", "execution-end"),
      item("Duration", liveDuration(exec.state), "execution-duration"),
      item("Revision", String(exec.flowRevision), "execution-revision"),
      item("Labels", (exec.labels || []).length ? labelChips(exec.labels) : el("span", { class: "muted" }, "none"), "execution-labels", "wide"),
      exec.originalId ? item("Replay of", el("a", { href: `/ui/executions/${encodeURIComponent(exec.namespace)}/${encodeURIComponent(exec.flowId)}/${encodeURIComponent(exec.originalId)}` }, exec.originalId), "execution-original") : null,
      exec.parentId ? item("Parent", el("span", { class: "mono" }, exec.parentId), "execution-parent") : null,
    ));
}

// ---- Gantt -------------------------------------------------------------------------------

function gantt(body, exec) {
  const chart = el("div", { class: "gantt", "data-testid": "gantt" });
  const legend = el("div", { class: "gantt-legend", "aria-hidden": "true" },
    [["queued", "var(--wait)", 35], ["running", "var(--run)"], ["success", "var(--ok)"], ["warning", "var(--warn)"], ["failed", "var(--bad)"], ["killed", "var(--kill)"]]
      .map(([n, c, mix]) => el("span", { style: `--c:${mix ? `color-mix(in srgb, ${c} ${mix}%, transparent)` : c}` }, n)));
  body.append(el("div", { class: "scroll" }, chart), legend);
  const href = (r) => `${execHref(exec, "logs")}?taskId=${encodeURIComponent(r.taskId)}`;
  let pending = false;
  let last = exec;
  const draw = () => { pending = false; drawGantt(chart, last, { href }); };
  draw();
  return {
    update(e) {
      last = e;
      if (!pending) { pending = true; requestAnimationFrame(draw); }
    },
    tick(e) { this.update(e); },
  };
}

// ---- Logs --------------------------------------------------------------------------------

function logs(body, exec, ctx) {
  const taskIds = [...new Set((exec.taskRunList || []).map((r) => r.taskId))];
  let taskId = ctx.query.get("taskId") || "";
  let minLevel = LEVELS.includes(ctx.query.get("minLevel")) ? ctx.query.get("minLevel") : "";
  const taskSel = el("select", { "data-testid": "log-task", "aria-label": "Task" },
    el("option", { value: "" }, "All tasks"), taskIds.map((t) => el("option", { value: t, selected: t === taskId }, t)));
  if (taskId && !taskIds.includes(taskId)) taskSel.append(el("option", { value: taskId, selected: true }, taskId));
  const levelSel = el("select", { "data-testid": "log-level", "aria-label": "Minimum level" },
    el("option", { value: "" }, "All levels"), LEVELS.map((l) => el("option", { value: l, selected: l === minLevel }, `${l} and above`)));
  const count = el("span", { class: "muted count", "data-testid": "logs-count" });
  const box = el("div", { class: "logs", "data-testid": "logs", role: "log", tabindex: "0", "aria-label": "Log lines" });
  body.append(el("div", { class: "filters" }, el("label", {}, "Task", taskSel), el("label", {}, "Level", levelSel), count), box);

  const all = [];
  let shown = 0;
  const rank = (l) => LEVELS.indexOf(l);
  const keep = (l) => (!taskId || l.taskId === taskId) && (!minLevel || rank(l.level) >= rank(minLevel));
  const line = (l) => {
    const ts = new Date(l.timestamp);
    const time = Number.isNaN(ts.getTime()) ? "" : ts.toLocaleTimeString(undefined, { hour12: false }) + "." + String(ts.getMilliseconds()).padStart(3, "0");
    return `<div class="log l-${esc(l.level)}" data-testid="log-line" data-level="${esc(l.level)}" data-task-id="${esc(l.taskId || "")}">` +
      `<span class="ts">${esc(time)}</span><span class="lv lv-${esc(l.level)}">${esc(l.level)}</span>` +
      `<span class="task" title="${esc(l.taskId || "")}">${esc(l.taskId || "")}</span><span class="msg">${esc(l.message)}</span></div>`;
  };
  const setCount = () => { count.textContent = `${shown.toLocaleString()} line${shown === 1 ? "" : "s"}`; };
  function redraw() {
    const lines = all.filter(keep);
    shown = lines.length;
    box.innerHTML = lines.length ? lines.map(line).join("") : `<div class="empty" data-testid="logs-empty">No log line${taskId || minLevel ? " matches" : " yet"}.</div>`;
    setCount();
    box.scrollTop = box.scrollHeight;
  }
  function append(batch) {
    const lines = batch.filter(keep);
    if (!lines.length) return;
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    if (!shown) box.innerHTML = "";
    box.insertAdjacentHTML("beforeend", lines.map(line).join(""));
    shown += lines.length;
    setCount();
    if (atEnd) box.scrollTop = box.scrollHeight;
  }
  function remember() {
    const p = new URLSearchParams(location.search);
    taskId ? p.set("taskId", taskId) : p.delete("taskId");
    minLevel ? p.set("minLevel", minLevel) : p.delete("minLevel");
    const s = p.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
  }
  taskSel.addEventListener("change", () => { taskId = taskSel.value; remember(); redraw(); });
  levelSel.addEventListener("change", () => { minLevel = levelSel.value; remember(); redraw(); });

  (async () => {
    if (isEnded(exec.state.current)) {
      try {
        all.push(...((await api(`logs/${encodeURIComponent(ctx.id)}`)) || []));
      } catch (e) {
        body.append(errorBox(e));
      }
      redraw();
      box.dataset.ready = "true";
      return;
    }
    redraw();
    box.dataset.live = "true";
    try {
      let batch = [];
      let flush = null;
      for await (const ev of events(`/api/v1/logs/${encodeURIComponent(ctx.id)}/follow`, ctx.signal)) {
        if (ev.event !== "message" || !ev.data) continue;
        try { batch.push(JSON.parse(ev.data)); } catch { continue; }
        // Lines come in bursts: add them once per frame.
        if (!flush) flush = requestAnimationFrame(() => { all.push(...batch); append(batch); batch = []; flush = null; });
      }
    } catch { /* aborted on leaving the page */ }
    box.dataset.live = "false";
    box.dataset.ready = "true";
  })();
  return {};
}

// ---- Outputs -----------------------------------------------------------------------------

const PREVIEW_ROWS = 50;
const PREVIEW_BYTES = 256 * 1024;

function fileUrl(execId, uri) {
  return `/api/v1/executions/${encodeURIComponent(execId)}/file?path=${encodeURIComponent(uri)}`;
}

function kind(uri) {
  const ext = (uri.split("?")[0].split(".").pop() || "").toLowerCase();
  if (ext === "csv" || ext === "tsv") return ext;
  if (ext === "jsonl" || ext === "ndjson" || ext === "ion") return "jsonl";
  if (["txt", "log", "json", "yaml", "yml", "md", "sql", "xml", "html"].includes(ext)) return "text";
  return null;
}

/** Reads the start of a file, at most `PREVIEW_BYTES`, without downloading the rest. */
async function head(url) {
  const res = await api(url, { raw: true });
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON */ }
    throw new ApiError(res.status, body);
  }
  const reader = res.body.getReader();
  const chunks = [];
  let n = 0;
  while (n < PREVIEW_BYTES) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
  }
  reader.cancel().catch(() => {});
  const all = new Uint8Array(Math.min(n, PREVIEW_BYTES));
  let o = 0;
  for (const c of chunks) {
    const part = c.subarray(0, Math.max(0, all.length - o));
    all.set(part, o);
    o += part.length;
  }
  return { text: new TextDecoder().decode(all), cut: n >= PREVIEW_BYTES };
}

function parseCsv(text, sep, max) {
  const rows = [];
  let row = [];
  let f = "";
  let quoted = false;
  for (let i = 0; i < text.length && rows.length <= max; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { f += '"'; i++; } else quoted = false;
      } else f += c;
    } else if (c === '"') quoted = true;
    else if (c === sep) { row.push(f); f = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(f); f = ""; rows.push(row); row = [];
    } else f += c;
  }
  if (f || row.length) { row.push(f); rows.push(row); }
  return rows;
}

function previewTable(columns, rows) {
  return `<table class="grid" data-testid="preview-table"><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${columns.map((_, i) => `<td>${esc(r[i])}</td>`).join("")}</tr>`).join("") + `</tbody></table>`;
}

async function preview(target, execId, uri) {
  target.replaceChildren(el("span", { class: "muted" }, "Loading…"));
  try {
    const { text, cut } = await head(fileUrl(execId, uri));
    const k = kind(uri);
    let html;
    let n;
    if (k === "csv" || k === "tsv") {
      const rows = parseCsv(text, k === "csv" ? "," : "\t", PREVIEW_ROWS + 1);
      const [cols = [], ...rest] = rows;
      const data = rest.slice(0, PREVIEW_ROWS);
      if (cut && data.length === rest.length && data.length) data.pop(); // the last row may be cut
      n = data.length;
      html = previewTable(cols, data);
    } else if (k === "jsonl") {
      const objs = [];
      for (const l of text.split("\n")) {
        if (objs.length >= PREVIEW_ROWS) break;
        if (!l.trim()) continue;
        try { objs.push(JSON.parse(l)); } catch { break; }
      }
      const cols = [...new Set(objs.flatMap((o) => (o && typeof o === "object" && !Array.isArray(o) ? Object.keys(o) : ["value"])))];
      const rows = objs.map((o) => cols.map((c) => {
        const v = o && typeof o === "object" && !Array.isArray(o) ? o[c] : o;
        return v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      }));
      n = rows.length;
      html = previewTable(cols, rows);
    } else {
      const lines = text.split("\n").slice(0, PREVIEW_ROWS);
      n = lines.length;
      html = `<pre class="mono">${esc(lines.join("\n"))}</pre>`;
    }
    target.innerHTML = `<div class="muted">First ${n} row${n === 1 ? "" : "s"}</div>${html}`;
  } catch (e) {
    target.replaceChildren(errorBox(e));
  }
}

async function download(execId, uri) {
  const res = await api(fileUrl(execId, uri), { raw: true });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const blob = await res.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = uri.split("/").pop();
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function valueNode(execId, v, message) {
  if (typeof v === "string" && v.startsWith("kestra:///")) {
    const target = el("div", { class: "preview" });
    const dl = el("a", { href: fileUrl(execId, v), download: v.split("/").pop(), class: "button", "data-testid": "output-download" }, "Download");
    dl.addEventListener("click", (e) => {
      if (!localStorage.getItem("weir.token")) return; // the plain link works without a token
      e.preventDefault();
      download(execId, v).catch((err) => message.replaceChildren(errorBox(err)));
    });
    const parts = [el("code", {}, v), dl];
    if (kind(v)) {
      const btn = el("button", { type: "button", "data-testid": "output-preview", "aria-expanded": "false" }, "Preview");
      btn.addEventListener("click", () => {
        const open = btn.getAttribute("aria-expanded") === "true";
        btn.setAttribute("aria-expanded", String(!open));
        if (open) target.replaceChildren();
        else preview(target, execId, v);
      });
      parts.push(btn);
    }
    return el("div", {}, el("div", { class: "file", "data-testid": "output-file" }, parts), target);
  }
  if (v && typeof v === "object") {
    const files = Object.entries(v).filter(([, x]) => typeof x === "string" && x.startsWith("kestra:///"));
    if (files.length && files.length === Object.keys(v).length && !Array.isArray(v)) {
      return kvTable(execId, v, message);
    }
    return el("pre", {}, JSON.stringify(v, null, 2));
  }
  return el("pre", {}, v === null ? "null" : String(v));
}

function kvTable(execId, obj, message) {
  return el("table", { class: "kv" }, el("tbody", {}, Object.entries(obj).map(([k, v]) =>
    el("tr", { "data-testid": "output-row", "data-key": k }, el("th", { scope: "row" }, k), el("td", {}, valueNode(execId, v, message))))));
}

function outputs(body, exec) {
  const message = el("div", { role: "status" });
  const wrap = el("div", { class: "outputs", "data-testid": "outputs" });
  body.append(message, wrap);
  let last = "";
  function draw(e) {
    const sigNow = JSON.stringify([e.outputs, (e.taskRunList || []).map((r) => r.outputs)]);
    if (sigNow === last) return;
    last = sigNow;
    const panels = [];
    if (e.outputs && Object.keys(e.outputs).length) {
      panels.push(el("div", { class: "panel out-run", "data-testid": "flow-outputs" }, el("h3", {}, "Flow outputs"), kvTable(e.id, e.outputs, message)));
    }
    for (const r of e.taskRunList || []) {
      if (!r.outputs || !Object.keys(r.outputs).length) continue;
      panels.push(el("div", { class: "panel out-run", "data-testid": "task-outputs", "data-task-run-id": r.id, "data-task-id": r.taskId },
        el("h3", {}, stateBadge(r.state.current), r.taskId, r.value != null ? el("span", { class: "muted mono" }, r.value) : null),
        kvTable(e.id, r.outputs, message)));
    }
    wrap.replaceChildren(...(panels.length ? panels : [el("p", { class: "muted", "data-testid": "outputs-empty" }, isEnded(e.state.current) ? "This execution has no output." : "No output yet.")]));
  }
  draw(exec);
  return { update: draw };
}

// ---- Topology ----------------------------------------------------------------------------

const BRANCHES = ["tasks", "then", "else", "errors", "finally", "default"];

/** The state that stands for several runs of one task: the worst, else the latest. */
function summary(runs) {
  if (!runs || !runs.length) return null;
  const order = ["FAILED", "KILLED", "RUNNING", "RETRYING", "WARNING", "CREATED", "SUCCESS", "SKIPPED"];
  const states = runs.map((r) => r.state.current);
  return order.find((s) => states.includes(s)) || states[states.length - 1];
}

function node(task, byTask) {
  const runs = byTask.get(task.id);
  const st = summary(runs);
  const type = String(task.type || "").split(".").pop();
  const branches = [];
  for (const key of BRANCHES) {
    if (Array.isArray(task[key]) && task[key].length) branches.push([key, task[key]]);
  }
  if (task.cases && typeof task.cases === "object") {
    for (const [k, v] of Object.entries(task.cases)) if (Array.isArray(v)) branches.push([`case ${k}`, v]);
  }
  return el("div", { class: `node ${st ? "c-" + st.toLowerCase() : ""}`, "data-testid": "topology-node", "data-task-id": task.id, "data-state": st || "" },
    el("div", { class: "nid" }, task.id),
    el("div", { class: "ntype", title: task.type }, type),
    el("div", { class: "nstate" }, st ? stateBadge(st) : el("span", { class: "muted" }, "not run"), runs && runs.length > 1 ? el("span", { class: "muted" }, ` ×${runs.length}`) : null),
    branches.map(([name, tasks]) => el("div", { class: "branch" }, el("div", { class: "bname" }, name), el("div", { class: "seq" }, tasks.map((t) => node(t, byTask))))));
}

async function topology(body, exec) {
  const wrap = el("div", { class: "topo", "data-testid": "topology" });
  body.append(wrap);
  let flow;
  try {
    flow = await api(`flows/${encodeURIComponent(exec.namespace)}/${encodeURIComponent(exec.flowId)}?revision=${exec.flowRevision}`);
  } catch (e) {
    wrap.replaceWith(errorBox(e));
    return {};
  }
  function draw(e) {
    const byTask = new Map();
    for (const r of e.taskRunList || []) {
      if (!byTask.has(r.taskId)) byTask.set(r.taskId, []);
      byTask.get(r.taskId).push(r);
    }
    const seq = el("div", { class: "seq" });
    (flow.tasks || []).forEach((t, i) => {
      if (i) seq.append(el("span", { class: "arrow", "aria-hidden": "true" }, "→"));
      seq.append(node(t, byTask));
    });
    const extra = [];
    if (Array.isArray(flow.errors) && flow.errors.length) extra.push(el("div", { class: "node" }, el("div", { class: "bname muted" }, "errors"), el("div", { class: "seq" }, flow.errors.map((t) => node(t, byTask)))));
    if (Array.isArray(flow.finally) && flow.finally.length) extra.push(el("div", { class: "node" }, el("div", { class: "bname muted" }, "finally"), el("div", { class: "seq" }, flow.finally.map((t) => node(t, byTask)))));
    wrap.replaceChildren(seq, ...extra);
  }
  draw(exec);
  return { update: draw };
}
