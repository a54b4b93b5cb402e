// /ui/flows/{namespace}/{flowId}/{tab}: one flow — overview with Run, its executions, its
// topology, its triggers with backfills, and the editor (ui/editor.js) for edit and revisions.
import { el, stateBadge, when, duration, labels as labelChips, errorBox } from "../dom.js";
import { api } from "../api.js";
import { go } from "../app.js";
import { pageCss, shortType, triggerChip, timeCell, enc } from "./flows.js";

const TABS = [["overview", "Overview"], ["executions", "Executions"], ["topology", "Topology"], ["triggers", "Triggers"], ["edit", "Edit"], ["revisions", "Revisions"]];
const ENDED = new Set(["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"]);

async function mountEditorInto(box, opts) {
  box.replaceChildren(el("p", { class: "muted" }, "Loading the editor…"));
  let mod;
  try {
    mod = await import("../editor.js");
  } catch {
    box.replaceChildren(el("div", { class: "empty", "data-testid": "editor-missing" }, "The YAML editor is not available in this build."));
    return undefined;
  }
  box.replaceChildren();
  return mod.mountEditor(box, opts);
}

export async function render(main, params) {
  pageCss();
  if (params.create) {
    main.append(el("div", { class: "page-head" }, el("h1", {}, "New flow")));
    const box = el("div", { "data-testid": "flow-editor-mount" });
    main.append(box);
    return mountEditorInto(box, { create: true, tab: "edit" });
  }
  const { namespace, flowId } = params;
  const tab = TABS.some(([t]) => t === params.tab) ? params.tab : "overview";
  const base = `/ui/flows/${enc(namespace)}/${enc(flowId)}`;
  const runBtn = el("button", { type: "button", class: "primary", "data-testid": "run-flow", disabled: true }, "▶ Run");
  main.append(
    el("div", { class: "page-head" },
      el("h1", {}, el("a", { class: "crumb", href: `/ui/flows?q=${enc(namespace)}` }, namespace), el("span", { class: "crumb" }, " / "), flowId),
      runBtn),
    el("nav", { class: "tabs", "aria-label": "Flow" }, TABS.map(([t, label]) =>
      el("a", { href: `${base}/${t}`, "data-testid": `tab-${t}`, "aria-current": t === tab ? "page" : null }, label))));
  const body = el("div", { "data-testid": `flow-${tab}` });
  main.append(body);

  if (tab === "edit" || tab === "revisions") {
    const box = el("div", { "data-testid": "flow-editor-mount" });
    body.append(box);
    // The editor works without the flow JSON; Run still needs it.
    api(`flows/${enc(namespace)}/${enc(flowId)}`).then((f) => wireRun(runBtn, f)).catch(() => {});
    return mountEditorInto(box, { namespace, flowId, create: false, tab });
  }

  let flow;
  try {
    flow = await api(`flows/${enc(namespace)}/${enc(flowId)}`);
  } catch (e) {
    body.append(errorBox(e));
    return undefined;
  }
  wireRun(runBtn, flow);
  switch (tab) {
    case "executions": return executionsTab(body, flow);
    case "topology": return topologyTab(body, flow);
    case "triggers": return triggersTab(body, flow);
    default: return overviewTab(body, flow);
  }
}

// ---- Run ----

/** One input's control; `prefix` keeps ids and test ids apart between the Run and backfill forms. */
function inputField(inp, prefix = "input") {
  const name = inp.id;
  const type = String(inp.type || "STRING").toUpperCase();
  const dflt = inp.defaults;
  const attrs = { name, id: `${prefix}-${name}`, "data-testid": `${prefix}-${name}`, required: inp.required !== false && dflt === undefined ? true : null };
  let control;
  if (type === "SELECT" || type === "ENUM") {
    control = el("select", attrs, (inp.values || []).map((v) => el("option", { value: v, selected: String(dflt) === String(v) }, v)));
  } else if (type === "MULTISELECT") {
    const chosen = new Set(Array.isArray(dflt) ? dflt.map(String) : []);
    control = el("select", { ...attrs, multiple: true }, (inp.values || inp.options || []).map((v) => el("option", { value: v, selected: chosen.has(String(v)) }, v)));
  } else if (type === "BOOLEAN" || type === "BOOL") {
    return el("label", { class: "check" }, el("input", { type: "checkbox", name, id: attrs.id, "data-testid": attrs["data-testid"], "data-bool": "1", checked: dflt === true || dflt === "true" }), el("span", {}, name), inp.description ? el("span", { class: "hint" }, inp.description) : null);
  } else if (type === "JSON" || type === "ARRAY" || type === "YAML") {
    control = el("textarea", { ...attrs, class: "code", rows: 3 }, dflt === undefined ? "" : typeof dflt === "string" ? dflt : JSON.stringify(dflt));
  } else if (type === "FILE") {
    control = el("input", { ...attrs, type: "file" });
  } else {
    const t = { INT: "number", INTEGER: "number", FLOAT: "number", NUMBER: "number", DATE: "date", DATETIME: "datetime-local", TIME: "time" }[type] || "text";
    control = el("input", { ...attrs, type: t, step: type === "FLOAT" || type === "NUMBER" ? "any" : null, value: dflt === undefined || dflt === null ? "" : String(dflt) });
  }
  return el("label", { for: attrs.id }, el("span", {}, name, el("span", { class: "type-tag", style: "margin-left:6px" }, type)), control,
    inp.description ? el("span", { class: "hint" }, inp.description) : null);
}

/** The inputs of a form as text values by name (checkboxes `true`/`false`, datetime-local as ISO). */
function readInputs(form) {
  const out = [];
  for (const c of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (c.dataset.skip) continue;
    if (c.dataset.bool) out.push([c.name, c.checked ? "true" : "false"]);
    else if (c.type === "file") { if (c.files[0]) out.push([c.name, c.files[0]]); }
    else if (c.multiple) out.push([c.name, JSON.stringify([...c.selectedOptions].map((o) => o.value))]);
    else if (c.type === "datetime-local" && c.value) out.push([c.name, new Date(c.value).toISOString()]);
    else if (c.value !== "") out.push([c.name, c.value]);
  }
  return out;
}

function wireRun(btn, flow) {
  btn.disabled = !!flow.disabled;
  btn.title = flow.disabled ? "This flow is disabled" : "Run this flow";
  btn.onclick = () => openRun(flow);
}

function openRun(flow) {
  const err = el("div");
  const labelsBox = el("input", { type: "text", name: "labels", "data-skip": "1", placeholder: "key:value, key2:value2", "data-testid": "run-labels" });
  const submit = el("button", { type: "submit", class: "primary", "data-testid": "run-submit" }, "Run");
  const form = el("form", { class: "stack", method: "dialog" },
    (flow.inputs || []).map((i) => inputField(i)),
    (flow.inputs || []).length ? null : el("p", { class: "muted", style: "margin:0" }, "This flow takes no inputs."),
    el("label", {}, el("span", {}, "Labels"), labelsBox),
    err,
    el("div", { class: "actions" }, el("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit));
  const dlg = el("dialog", { "data-testid": "run-dialog", "aria-label": `Run ${flow.id}` }, el("h2", {}, `Run ${flow.namespace}.${flow.id}`), form);
  dlg.addEventListener("close", () => dlg.remove());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    err.replaceChildren();
    const fd = new FormData();
    for (const [k, v] of readInputs(form)) fd.append(k, v);
    const qs = labelsBox.value.split(",").map((s) => s.trim()).filter(Boolean).map((l) => `labels=${enc(l)}`).join("&");
    try {
      const e = await api(`executions/${enc(flow.namespace)}/${enc(flow.id)}${qs ? `?${qs}` : ""}`, { method: "POST", body: fd });
      dlg.close();
      go(`/ui/executions/${enc(e.namespace)}/${enc(e.flowId)}/${enc(e.id)}`);
    } catch (e) {
      err.replaceChildren(errorBox(e));
      submit.disabled = false;
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  const first = form.querySelector("input, select, textarea");
  if (first) first.focus();
}

// ---- Overview ----

function overviewTab(body, flow) {
  const inputs = flow.inputs || [];
  const tasks = countTasks(flow.tasks || []);
  body.append(el("div", { class: "grid2" },
    el("div", { class: "panel" },
      el("h3", {}, "Description"),
      flow.description ? el("p", { class: "desc", "data-testid": "flow-description" }, flow.description) : el("p", { class: "muted" }, "No description."),
      el("h3", {}, `Inputs (${inputs.length})`),
      inputs.length ? el("div", { class: "scroll" }, el("table", { class: "grid", "data-testid": "flow-inputs" },
        el("thead", {}, el("tr", {}, el("th", {}, "Id"), el("th", {}, "Type"), el("th", {}, "Default"), el("th", {}, "Required"))),
        el("tbody", {}, inputs.map((i) => el("tr", {},
          el("td", { class: "mono" }, i.id), el("td", {}, el("span", { class: "type-tag" }, i.type || "STRING")),
          el("td", { class: "mono" }, i.defaults === undefined ? el("span", { class: "muted" }, "—") : typeof i.defaults === "string" ? i.defaults : JSON.stringify(i.defaults)),
          el("td", {}, i.required === false || i.defaults !== undefined ? "no" : "yes")))))) : el("p", { class: "muted" }, "No inputs.")),
    el("div", { class: "panel" },
      el("dl", { class: "kv" },
        el("dt", {}, "Namespace"), el("dd", { class: "mono" }, flow.namespace),
        el("dt", {}, "Revision"), el("dd", {}, String(flow.revision)),
        el("dt", {}, "Updated"), el("dd", {}, when(flow.updated)),
        el("dt", {}, "Tasks"), el("dd", {}, String(tasks)),
        el("dt", {}, "Status"), el("dd", {}, flow.disabled ? "disabled" : "enabled"),
        el("dt", {}, "Triggers"), el("dd", {}, (flow.triggers || []).length ? (flow.triggers || []).map((t) => triggerChip(t, t.disabled)) : "—"),
        el("dt", {}, "Labels"), el("dd", { "data-testid": "flow-labels" }, flow.labels && Object.keys(flow.labels).length ? labelChips(flow.labels) : "—")))));
}

// ---- Executions ----

function executionsTab(body, flow) {
  const table = el("div", { "aria-live": "polite" }, el("p", { class: "muted" }, "Loading…"));
  const total = el("span", { class: "muted" });
  body.append(el("div", { class: "row", style: "justify-content:space-between;margin-bottom:8px" }, total,
    el("a", { href: `/ui/executions?namespace=${enc(flow.namespace)}&flowId=${enc(flow.id)}` }, "All, with filters →")), table);
  let stop = false;
  let timer;
  async function load() {
    try {
      const r = await api(`executions/search?namespace=${enc(flow.namespace)}&flowId=${enc(flow.id)}&size=50`);
      const es = (r.results || []).filter((e) => e.namespace === flow.namespace);
      total.textContent = `${r.total} execution${r.total === 1 ? "" : "s"}${r.total > 50 ? ", newest 50 shown" : ""}`;
      table.replaceChildren(es.length ? el("div", { class: "scroll" }, el("table", { class: "grid", "data-testid": "flow-executions" },
        el("thead", {}, el("tr", {}, el("th", {}, "Id"), el("th", {}, "State"), el("th", {}, "Started"), el("th", { class: "num" }, "Duration"), el("th", { class: "hide-narrow" }, "Labels"))),
        el("tbody", {}, es.map((e) => {
          const start = new Date(e.state.startDate).getTime();
          const end = e.state.endDate ? new Date(e.state.endDate).getTime() : Date.now();
          return el("tr", { "data-testid": "flow-execution-row", "data-execution-id": e.id },
            el("td", { class: "mono" }, el("a", { href: `/ui/executions/${enc(e.namespace)}/${enc(e.flowId)}/${enc(e.id)}` }, e.id.slice(0, 8))),
            el("td", {}, stateBadge(e.state.current)),
            el("td", {}, el("span", { class: "when", title: when(e.state.startDate) }, when(e.state.startDate))),
            el("td", { class: "num" }, duration(end - start)),
            el("td", { class: "hide-narrow wrap" }, labelChips(e.labels)));
        })))) : el("div", { class: "empty" }, "No executions yet. Press Run."));
    } catch (e) {
      table.replaceChildren(errorBox(e));
    }
    if (!stop) timer = setTimeout(load, 3000);
  }
  load();
  return () => { stop = true; clearTimeout(timer); };
}

// ---- Topology ----

const BRANCHES = ["tasks", "then", "else", "errors", "finally", "cases"];

function countTasks(tasks) {
  let n = 0;
  for (const t of tasks || []) {
    n += 1;
    for (const b of BRANCHES) {
      if (b === "cases" && t.cases && typeof t.cases === "object") for (const v of Object.values(t.cases)) n += countTasks(v);
      else if (Array.isArray(t[b])) n += countTasks(t[b]);
    }
  }
  return n;
}

function sequence(tasks, parallel) {
  const box = el("div", { class: parallel ? "par" : "seq" });
  tasks.forEach((t, i) => {
    if (i > 0 && !parallel) box.append(el("div", { class: "arrow", "aria-hidden": "true" }));
    box.append(node(t));
  });
  return box;
}

function node(t) {
  const kind = shortType(t.type);
  const branches = [];
  for (const b of BRANCHES) {
    if (b === "cases" && t.cases && typeof t.cases === "object") {
      for (const [k, v] of Object.entries(t.cases)) if (Array.isArray(v)) branches.push([`case ${k}`, v]);
    } else if (Array.isArray(t[b]) && t[b].length) branches.push([b === "tasks" ? "" : b, t[b]]);
  }
  const par = /Parallel|ForEach|EachParallel/.test(kind);
  return el("div", { class: `node${branches.length ? " group" : ""}`, "data-testid": "topology-node", "data-task-id": t.id, role: "listitem" },
    el("div", { class: "id" }, t.id),
    el("div", { class: "type", title: t.type }, kind),
    branches.map(([name, ts]) => el("div", { class: "branch", role: "list" },
      name ? el("div", { class: "branch-name" }, name) : null,
      sequence(ts, par && !name))));
}

function topologyTab(body, flow) {
  const tasks = flow.tasks || [];
  body.append(el("div", { class: "panel topo", "data-testid": "topology", role: "list", "aria-label": "Tasks" },
    tasks.length ? sequence(tasks, false) : el("p", { class: "muted" }, "No tasks."),
    (flow.errors || []).length ? el("div", { class: "branch", style: "margin-top:16px" }, el("div", { class: "branch-name" }, "errors"), sequence(flow.errors, false)) : null,
    (flow.finally || []).length ? el("div", { class: "branch", style: "margin-top:16px" }, el("div", { class: "branch-name" }, "finally"), sequence(flow.finally, false)) : null));
}

// ---- Triggers ----

function localInput(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function triggersTab(body, flow) {
  const list = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  body.append(list);
  let stop = false;
  let timer;
  const forms = new Map(); // kept across refreshes so typing is never lost
  const progress = new Map();
  const seen = new Map(); // trigger id → the id of its backfill seen on this page

  async function load() {
    let ctxs;
    try {
      const r = await api(`triggers/search?namespace=${enc(flow.namespace)}&flowId=${enc(flow.id)}&size=1000`);
      ctxs = new Map((r.results || []).filter((t) => t.triggerContext.namespace === flow.namespace).map((t) => [t.triggerContext.triggerId, t]));
    } catch (e) {
      list.replaceChildren(errorBox(e));
      return;
    }
    const ts = flow.triggers || [];
    if (!ts.length) {
      list.replaceChildren(el("div", { class: "empty" }, "This flow has no triggers."));
      return;
    }
    if (!list.querySelector("[data-testid=trigger]")) list.replaceChildren();
    let busy = false;
    for (const t of ts) {
      const item = ctxs.get(t.id);
      const c = item ? item.triggerContext : null;
      let card = list.querySelector(`[data-trigger-id="${CSS.escape(t.id)}"]`);
      if (!card) {
        card = el("section", { class: "panel", "data-testid": "trigger", "data-trigger-id": t.id, style: "margin-bottom:12px" });
        list.append(card);
      }
      const head = triggerHead(t, c);
      const isSchedule = shortType(t.type) === "Schedule";
      const parts = [head];
      // A backfill leaves the trigger once it ends: the one seen here stays shown, with its end.
      let b = c && c.backfill;
      if (b) seen.set(t.id, b.id);
      else if (seen.has(t.id)) b = await finished(seen.get(t.id));
      if (b) {
        const active = b.state === "RUNNING" || b.state === "PAUSED";
        const ended = await endedCount(b);
        if (active || ended < b.createdCount) busy = true;
        parts.push(backfillProgress(t, b, ended));
      }
      if (isSchedule && c) {
        if (!forms.has(t.id)) forms.set(t.id, backfillForm(flow, t, async (res, sent) => {
          if (res && res.backfill) seen.set(t.id, res.backfill.id);
          else {
            // Short backfills can end before the answer: find it among all, newest first.
            const all = await api("triggers/backfills").catch(() => []);
            const mine = all.find((x) => Date.parse(x.start) === Date.parse(sent.start));
            if (mine) seen.set(t.id, mine.id);
          }
          clearTimeout(timer);
          load();
        }));
        parts.push(forms.get(t.id));
      }
      card.replaceChildren(...parts);
    }
    if (!stop) timer = setTimeout(load, busy ? 1000 : 5000);
  }

  async function finished(id) {
    try {
      return (await api("triggers/backfills")).find((x) => x.id === id) || null;
    } catch {
      return null;
    }
  }

  async function endedCount(b) {
    if (!b.createdCount) return 0;
    const size = Math.min(Math.max(b.createdCount, 1), 1000);
    try {
      const r = await api(`executions/search?namespace=${enc(flow.namespace)}&flowId=${enc(flow.id)}&labels=${enc("backfill:true")}&size=${size}`);
      const mine = (r.results || []).filter((e) => e.trigger && e.trigger.backfill === b.id);
      const n = mine.filter((e) => ENDED.has(e.state.current)).length;
      progress.set(b.id, n);
      return n;
    } catch {
      return progress.get(b.id) || 0;
    }
  }

  function triggerHead(t, c) {
    const disabled = c ? c.disabled : !!t.disabled;
    const toggle = el("input", { type: "checkbox", role: "switch", checked: !disabled, "data-testid": "trigger-toggle", "aria-label": `Enable trigger ${t.id}` });
    toggle.addEventListener("change", async () => {
      toggle.disabled = true;
      try {
        await api("triggers", { method: "PUT", body: { namespace: flow.namespace, flowId: flow.id, triggerId: t.id, disabled: !toggle.checked } });
      } catch (e) {
        toggle.checked = !toggle.checked;
        alert(e.message);
      }
      clearTimeout(timer);
      load();
    });
    return el("div", {},
      el("div", { class: "row", style: "justify-content:space-between" },
        el("div", { class: "row" }, el("strong", { class: "mono" }, t.id), triggerChip(t, disabled)),
        el("label", { class: "switch" }, toggle, el("span", {}, disabled ? "Disabled" : "Enabled"))),
      el("dl", { class: "kv", style: "margin-top:8px" },
        el("dt", {}, "Type"), el("dd", { class: "mono" }, t.type),
        t.cron ? [el("dt", {}, "Cron"), el("dd", { class: "mono" }, t.cron + (t.timezone ? ` (${t.timezone})` : ""))] : null,
        el("dt", {}, "Next date"), el("dd", { "data-testid": "trigger-next" }, c && c.nextExecutionDate && !disabled ? [when(c.nextExecutionDate), " ", el("span", { class: "muted" }, `(${timeCell(c.nextExecutionDate).textContent})`)] : "—"),
        el("dt", {}, "Last date"), el("dd", { "data-testid": "trigger-last" }, c && c.date ? when(c.date) : "—")));
  }

  function backfillProgress(t, b, ended) {
    const total = b.total || 0;
    const pct = (n) => (total ? Math.min(100, (100 * n) / total) : 0);
    const act = async (what) => {
      const ref = { namespace: flow.namespace, flowId: flow.id, triggerId: t.id };
      try {
        if (what === "cancel") {
          if (!confirm("Cancel this backfill? Executions already created keep running.")) return;
          await api("triggers/backfill/delete", { method: "POST", body: ref });
        } else {
          await api(`triggers/backfill/${what}`, { method: "PUT", body: ref });
        }
      } catch (e) {
        alert(e.message);
      }
      clearTimeout(timer);
      load();
    };
    const active = b.state === "RUNNING" || b.state === "PAUSED";
    return el("div", { class: "panel", "data-testid": "backfill-progress", "data-backfill-id": b.id, "data-state": b.state, style: "margin-top:12px;background:var(--bg)" },
      el("div", { class: "row", style: "justify-content:space-between;margin-bottom:6px" },
        el("div", { class: "row" }, el("strong", {}, "Backfill"), el("span", { class: "bf-state", "data-testid": "backfill-state" }, b.state),
          el("span", { class: "when" }, `${when(b.start)} → ${when(b.end)}`)),
        el("div", { class: "row" },
          b.state === "RUNNING" ? el("button", { type: "button", "data-testid": "backfill-pause", onclick: () => act("pause") }, "❚❚ Pause") : null,
          b.state === "PAUSED" ? el("button", { type: "button", "data-testid": "backfill-resume", onclick: () => act("unpause") }, "▶ Resume") : null,
          active ? el("button", { type: "button", class: "danger", "data-testid": "backfill-cancel", onclick: () => act("cancel") }, "Cancel") : null)),
      el("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": ended, "aria-label": "Backfill progress" },
        el("span", { style: `width:${pct(b.createdCount)}%` }), el("span", { class: "ended", style: `width:${pct(ended)}%` })),
      el("div", { class: "row hint", style: "margin-top:6px;justify-content:space-between" },
        el("span", { "data-testid": "backfill-created" }, `${b.createdCount} / ${total} created`),
        el("span", { "data-testid": "backfill-ended" }, `${ended} ended`),
        b.currentDate ? el("span", {}, `at ${when(b.currentDate)}`) : null,
        el("a", { href: `/ui/executions?namespace=${enc(flow.namespace)}&flowId=${enc(flow.id)}&labels=${enc("backfill:true")}` }, "Executions →")));
  }

  load();
  return () => { stop = true; clearTimeout(timer); };
}

function backfillForm(flow, t, done) {
  const now = new Date();
  const monthAgo = new Date(now.getTime() - 30 * 86400000);
  const start = el("input", { type: "datetime-local", name: "start", required: true, value: localInput(monthAgo), "data-testid": "backfill-start", "data-skip": "1" });
  const end = el("input", { type: "datetime-local", name: "end", value: localInput(now), "data-testid": "backfill-end", "data-skip": "1" });
  const labelsBox = el("textarea", { name: "labels", rows: 2, class: "code", style: "min-height:0", placeholder: "key:value (one a line)", "data-testid": "backfill-labels", "data-skip": "1" });
  const err = el("div");
  const submit = el("button", { type: "submit", class: "primary", "data-testid": "backfill-submit" }, "Start backfill");
  const inputsBox = el("div", { class: "field-row" }, (flow.inputs || []).map((i) => inputField(i, "backfill-input")));
  const form = el("form", { class: "stack", "data-testid": "backfill-form" },
    el("div", { class: "field-row" },
      el("label", {}, el("span", {}, "Start"), start),
      el("label", {}, el("span", {}, "End"), end)),
    (flow.inputs || []).length ? [el("div", { class: "hint" }, "Inputs"), inputsBox] : null,
    el("label", {}, el("span", {}, "Labels"), labelsBox, el("span", { class: "hint" }, "Every execution also gets backfill:true.")),
    err,
    el("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.replaceChildren();
    submit.disabled = true;
    const inputs = Object.fromEntries(readInputs(inputsBox).filter(([, v]) => typeof v === "string"));
    const labels = labelsBox.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean).map((s) => {
      const i = s.indexOf(":");
      return i > 0 ? { key: s.slice(0, i).trim(), value: s.slice(i + 1).trim() } : null;
    });
    if (labels.includes(null)) {
      err.replaceChildren(errorBox("Write each label as key:value."));
      submit.disabled = false;
      return;
    }
    const backfill = { start: new Date(start.value).toISOString(), inputs, labels };
    if (end.value) backfill.end = new Date(end.value).toISOString();
    try {
      await done(await api("triggers", { method: "PUT", body: { namespace: flow.namespace, flowId: flow.id, triggerId: t.id, backfill } }), backfill);
    } catch (e) {
      err.replaceChildren(errorBox(e));
    }
    submit.disabled = false;
  });
  return el("details", { class: "backfill", style: "margin-top:12px" , open: true },
    el("summary", { style: "cursor:pointer;font-weight:600" }, "Backfill executions"), el("div", { style: "margin-top:10px" }, form));
}
