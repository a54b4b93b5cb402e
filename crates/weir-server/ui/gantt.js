// The Gantt chart of an execution: one row per task run, nested under its parent, on a time axis
// from the execution's start to its end (or now). Drawn in one innerHTML pass — plain divs
// positioned in percent, so the browser lays it out once however many task runs there are.

import { duration } from "./dom.js";

const ENDED = new Set(["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"]);
const NICE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5];

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const t = (iso) => (iso ? Date.parse(iso) : NaN);

/** Whether a state is final. */
export function isEnded(state) {
  return ENDED.has(state);
}

/** Task runs in tree order (each parent followed by its children), with their depth. */
export function treeOrder(runs) {
  const ids = new Set(runs.map((r) => r.id));
  const children = new Map();
  const roots = [];
  for (const r of runs) {
    const p = r.parentTaskRunId;
    if (p && ids.has(p)) {
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(r);
    } else roots.push(r);
  }
  const out = [];
  const stack = roots.slice().reverse().map((r) => [r, 0]);
  while (stack.length) {
    const [r, depth] = stack.pop();
    out.push([r, depth]);
    const kids = children.get(r.id);
    if (kids) for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  return out;
}

/** The first date a history reaches `state`. */
function firstOf(histories, state) {
  const h = (histories || []).find((x) => x.state === state);
  return h ? t(h.date) : NaN;
}

/** The date a state object ended, or `now` while it goes on. */
function endOf(st, now) {
  if (st.endDate) return t(st.endDate);
  if (isEnded(st.current)) {
    const hs = st.histories || [];
    return hs.length ? t(hs[hs.length - 1].date) : now;
  }
  return now;
}

/** The segments of one task run: its queued time, then one running segment per attempt. */
export function segments(run, now) {
  const st = run.state || {};
  const created = t(st.startDate) || firstOf(st.histories, "CREATED");
  const end = endOf(st, now);
  const list = run.attempts || [];
  const attempts = list.map((a, i) => {
    const s = a.state || {};
    const start = firstOf(s.histories, "RUNNING") || t(s.startDate) || created;
    // An attempt that was retried ended failing: weir records it as RETRYING, Kestra as FAILED.
    const retried = i < list.length - 1 || s.current === "RETRYING";
    const hs = s.histories || [];
    const stop = retried && !s.endDate && hs.length ? t(hs[hs.length - 1].date) : endOf(s, now);
    const state = retried && !isEnded(s.current) ? "FAILED" : s.current;
    return { n: i + 1, state, start, end: Math.max(start, stop) };
  });
  const firstRun = attempts.length ? attempts[0].start : firstOf(st.histories, "RUNNING");
  const queuedEnd = Number.isNaN(firstRun) ? end : firstRun;
  return { created, end: Math.max(end, created), queuedEnd, attempts };
}

function ticks(span, most) {
  const step = NICE.find((n) => span / n <= most) || NICE[NICE.length - 1];
  const out = [];
  for (let v = 0; v <= span + 1e-6; v += step) out.push(v);
  return out;
}

/** A duration, with "<1ms" for what took less. */
const dur = (ms) => (ms < 1 ? "<1ms" : duration(ms));

function fmtTick(ms, span) {
  if (ms === 0) return "0";
  if (span < 2000) return `${Math.round(ms)}ms`;
  return duration(ms) || "0s";
}

/**
 * Draws the chart of `execution` into `container` (replacing its content) and records how long
 * that took in the chart's `data-draw-ms`. `opts.href(run)` gives each row's link.
 */
export function drawGantt(container, execution, opts = {}) {
  const t0perf = performance.now();
  const now = opts.now ?? Date.now();
  const runs = execution.taskRunList || [];
  const est = execution.state || {};
  const start = t(est.startDate) || Math.min(...runs.map((r) => t(r.state?.startDate)).filter((x) => !Number.isNaN(x)), now);
  let end = endOf(est, now);
  const segs = new Map();
  for (const r of runs) {
    const s = segments(r, now);
    segs.set(r.id, s);
    if (s.end > end) end = s.end;
  }
  const span = Math.max(end - start, 1);
  const pct = (v) => (((v - start) / span) * 100).toFixed(3);
  const wid = (a, b) => ((Math.max(b - a, 0) / span) * 100).toFixed(3);

  // As many ticks as fit their labels (one read of the width, before anything is written).
  const width = container.clientWidth || 1000;
  const tk = ticks(span, Math.max(2, Math.min(8, Math.floor((width - (width < 700 ? 200 : 360)) / 80))));
  const axis = tk.map((v) => `<span class="g-tick" style="left:${((v / span) * 100).toFixed(3)}%">${esc(fmtTick(v, span))}</span>`).join("");
  const grid = tk.map((v) => `<i style="left:${((v / span) * 100).toFixed(3)}%"></i>`).join("");

  const rows = [];
  for (const [r, depth] of treeOrder(runs)) {
    const s = segs.get(r.id);
    const state = r.state?.current || "";
    const total = s.end - s.created;
    const queued = s.queuedEnd - s.created;
    const lines = [
      `${r.taskId}${r.value != null ? ` [${r.value}]` : ""} — ${state}`,
      `created ${new Date(s.created).toLocaleTimeString()} (+${duration(s.created - start) || "0ms"})`,
      `queued ${dur(queued)}`,
      ...s.attempts.map((a) => `attempt ${a.n}: ${a.state} ${dur(a.end - a.start)} from +${duration(a.start - start) || "0ms"}`),
      `total ${dur(total)}`,
    ];
    const bw = Math.max(s.end - s.created, 0);
    const inner = (a, b) => (bw > 0 ? (((a - s.created) / bw) * 100).toFixed(3) : 0);
    const innerW = (a, b) => (bw > 0 ? ((Math.max(b - a, 0) / bw) * 100).toFixed(3) : 100);
    const parts = [`<span class="g-seg g-queued" style="left:0;width:${innerW(s.created, s.queuedEnd)}%"></span>`];
    for (const a of s.attempts) {
      parts.push(`<span class="g-seg s-${esc(String(a.state).toLowerCase())}" data-attempt="${a.n}" style="left:${inner(a.start)}%;width:${innerW(a.start, a.end)}%"></span>`);
    }
    const href = opts.href ? opts.href(r) : null;
    const name = `${esc(r.taskId)}${r.value != null ? ` <span class="g-value">${esc(r.value)}</span>` : ""}`;
    rows.push(
      `<div class="g-row" data-testid="gantt-row" data-task-id="${esc(r.taskId)}" data-state="${esc(state)}">` +
        `<div class="g-name" style="padding-left:${8 + depth * 14}px">` +
        `<span class="g-dot s-${esc(state.toLowerCase())}" title="${esc(state)}"></span>` +
        (href ? `<a href="${esc(href)}" title="Logs of ${esc(r.taskId)}">${name}</a>` : `<span>${name}</span>`) +
        `</div>` +
        `<div class="g-track"><div class="g-bar" data-task-run-id="${esc(r.id)}" data-testid="gantt-bar" data-attempts="${s.attempts.length}" title="${esc(lines.join("\n"))}" style="left:${pct(s.created)}%;width:${wid(s.created, s.end)}%">${parts.join("")}</div></div>` +
        `<div class="g-dur">${esc(dur(total))}</div>` +
        `</div>`,
    );
  }
  container.classList.add("gantt");
  container.dataset.testid = "gantt";
  container.innerHTML =
    `<div class="g-head"><div class="g-name">Task</div><div class="g-axis">${axis}</div><div class="g-dur">Duration</div></div>` +
    `<div class="g-body"><div class="g-grid">${grid}</div>${rows.join("") || '<p class="muted g-empty">No task run yet.</p>'}</div>`;
  void container.offsetHeight; // the layout is part of drawing
  const ms = performance.now() - t0perf;
  container.dataset.drawMs = ms.toFixed(1);
  container.dataset.taskRuns = String(runs.length);
  return ms;
}
