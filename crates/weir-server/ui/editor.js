// The flow YAML editor: a <textarea> over a highlighted <pre> (same font and metrics, both in
// one scrolling box so they never drift), line numbers, the server's validation inline as you
// type, completion of task types and properties from the flow JSON Schema, save as a new
// revision, and the revision history with a diff. No library.
//
// Hooks for tests: [data-testid=flow-editor] the textarea; [data-testid=editor-problem] each
// inline message (data-line, data-column, 1-based); [data-testid=editor-save];
// [data-testid=editor-status] (data-state: loading|valid|invalid|dirty|saving|saved|error).

import { el, when, errorBox } from "./dom.js";
import { api } from "./api.js";
import { go } from "./app.js";
import { diffLines, hunks, stats } from "./diff.js";

let cssAdded = false;
function addCss() {
  if (cssAdded || document.querySelector("link[data-editor-css]")) return;
  cssAdded = true;
  document.head.append(el("link", { rel: "stylesheet", href: new URL("./editor.css", import.meta.url).href, "data-editor-css": true }));
}

const enc = encodeURIComponent;
const flowPath = (ns, id) => `flows/${enc(ns)}/${enc(id)}`;

const NEW_FLOW = `id: hello
namespace: company.team

tasks:
  - id: say_hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello from {{ flow.id }}"
`;

/**
 * Mounts the editor (`tab: "edit"`) or the revision history (`tab: "revisions"`) of a flow in
 * `container`; `create: true` edits a new flow. Returns a cleanup function.
 */
export function mountEditor(container, { namespace, flowId, create = false, tab = "edit" } = {}) {
  addCss();
  // `flow-editor` names the textarea (the hook tests type into): a container named the same
  // would make the hook ambiguous.
  if (container.dataset && container.dataset.testid === "flow-editor") container.dataset.testid = "flow-editor-box";
  const ctl = new AbortController();
  const root = el("div", { class: "wz" });
  container.append(root);
  if (tab === "revisions" && !create) revisionsView(root, namespace, flowId, ctl.signal);
  else editView(root, { namespace, flowId, create }, ctl.signal);
  return () => {
    ctl.abort();
    root.remove();
  };
}

// ---------------------------------------------------------------------------------------------
// YAML highlighting

const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const span = (cls, s) => (s ? `<span class="t-${cls}">${esc(s)}</span>` : "");

/** A scalar's text with `{{ … }}` and `{% … %}` marked, inside a span of class `cls`. */
function scalar(cls, s) {
  if (!s) return "";
  let out = "";
  let i = 0;
  const re = /\{\{[\s\S]*?(\}\}|$)|\{%[\s\S]*?(%\}|$)/g;
  let m;
  while ((m = re.exec(s))) {
    if (m.index > i) out += span(cls, s.slice(i, m.index));
    out += span("expr", m[0]);
    i = m.index + m[0].length;
    if (m[0].length === 0) re.lastIndex++;
  }
  if (i < s.length) out += span(cls, s.slice(i));
  return out;
}

/** The value part of a line (after `key:` or a dash). */
function value(s) {
  let out = "";
  const lead = s.match(/^\s*/)[0];
  out += esc(lead);
  let rest = s.slice(lead.length);
  if (!rest) return out;
  // A trailing comment: ` #` outside quotes.
  let body = rest, comment = "";
  let q = null;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (q) { if (c === q && rest[i - 1] !== "\\") q = null; }
    else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,]/.test(rest[i - 1]))) q = c;
    else if (c === "#" && (i === 0 || /\s/.test(rest[i - 1]))) { body = rest.slice(0, i); comment = rest.slice(i); break; }
  }
  const trail = body.match(/\s*$/)[0];
  const v = body.slice(0, body.length - trail.length);
  if (/^["']/.test(v)) out += scalar("str", v);
  else if (/^[|>][-+0-9]*$/.test(v)) out += span("punct", v);
  else if (/^(true|false|yes|no|on|off|True|False|TRUE|FALSE)$/.test(v)) out += span("bool", v);
  else if (/^(null|Null|NULL|~)$/.test(v)) out += span("bool", v);
  else if (/^[-+]?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|\.\d+|0x[0-9a-fA-F]+|\.inf|\.nan)$/.test(v)) out += span("num", v);
  else if (/^[[{]/.test(v)) out += flow(v);
  else if (/^[&*]\S+/.test(v)) out += span("anchor", v);
  else out += scalar("plain", v);
  return out + esc(trail) + span("comment", comment);
}

/** A flow collection (`[a, b]`, `{k: v}`): punctuation and scalars. */
function flow(v) {
  return v.split(/([[\]{},:])/).map((p) => (/^[[\]{},:]$/.test(p) ? span("punct", p) : value(p))).join("");
}

/** Highlights a YAML text line by line: `[html]`, one per line. */
export function highlight(text) {
  const lines = text.split("\n");
  const out = [];
  let block = -1; // indent of the key owning a block scalar, -1 when not in one
  for (const line of lines) {
    const indent = line.match(/^ */)[0].length;
    if (block >= 0) {
      if (line.trim() === "" || indent > block) { out.push(scalar("str", line)); continue; }
      block = -1;
    }
    if (/^\s*#/.test(line)) { out.push(esc(line.match(/^\s*/)[0]) + span("comment", line.trim())); continue; }
    if (/^(---|\.\.\.)\s*$/.test(line)) { out.push(span("doc", line)); continue; }
    let html = esc(line.slice(0, indent));
    let rest = line.slice(indent);
    let col = indent;
    let dm;
    while ((dm = rest.match(/^-(\s+|$)/))) {
      html += span("dash", "-") + esc(dm[1]);
      rest = rest.slice(dm[0].length);
      col += dm[0].length;
    }
    const km = rest.match(/^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s#'"{[][^#]*?)(\s*)(:)(?=\s|$)/);
    if (km) {
      html += span("key", km[1]) + esc(km[2]) + span("punct", ":");
      const after = rest.slice(km[0].length);
      if (/^\s*[|>][-+0-9]*\s*(#.*)?$/.test(after)) block = indent;
      html += value(after);
    } else {
      html += value(rest);
      if (/^[|>][-+0-9]*\s*$/.test(rest)) block = indent;
    }
    out.push(html);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The flow JSON Schema, for completion

let schemaPromise = null;
function loadSchema() {
  if (!schemaPromise) {
    schemaPromise = api("plugins/schemas/flow")
      .then(indexSchema)
      .catch(() => { schemaPromise = null; return null; });
  }
  return schemaPromise;
}

const firstLine = (s) => String(s || "").split("\n")[0];
function typeName(p) {
  if (!p) return "";
  if (p.enum) return p.enum.length > 4 ? "enum" : p.enum.join(" | ");
  if (Array.isArray(p.type)) return p.type.includes("string") ? "string" : p.type.join(" | ");
  if (p.type) return p.type;
  if (p.$ref) return "task";
  if (p.anyOf || p.oneOf) return "any";
  return "any";
}

const BASE_DOCS = {
  id: "The task's id, unique in the flow: outputs are read as `{{ outputs.ID }}`.",
  type: "The task type: what the task does.",
  description: "What the task is for, shown in the UI.",
  retry: "How to retry a failed attempt: `type` (constant, exponential, random), `interval`, `maxAttempts`…",
  timeout: "How long an attempt may run (ISO 8601 duration, e.g. `PT10M`).",
  disabled: "Skip the task.",
  allowFailure: "A failure of the task does not fail the execution (it ends WARNING).",
  runIf: "A Pebble expression: the task runs only when it renders true.",
  logLevel: "The lowest level of the task's logs that are kept.",
  workerGroup: "Where the task runs.",
};
const BASE = new Set(Object.keys(BASE_DOCS));

/** `{types: [{name, description, props}], byName, flowProps}` from the schema. */
function indexSchema(schema) {
  const variants = (schema && schema.$defs && schema.$defs.task && schema.$defs.task.oneOf) || [];
  const types = [];
  const byName = new Map();
  for (const v of variants) {
    const props = Object.entries(v.properties || {}).map(([name, p]) => ({
      name, detail: typeName(p), description: p.description || BASE_DOCS[name] || "", required: (v.required || []).includes(name), enum: p.enum,
    }));
    // The task's own properties first (required ones leading), then those every task has.
    const rank = (p) => (p.name === "id" || p.name === "type" ? 0 : BASE.has(p.name) ? 3 : p.required ? 1 : 2);
    props.sort((a, b) => rank(a) - rank(b));
    props.forEach((p) => { if (p.required) p.detail = `${p.detail} · required`; });
    const names = (v.properties && v.properties.type && v.properties.type.enum) || [v.title];
    names.forEach((name, i) => {
      const t = { name, description: v.description || "", detail: i ? `alias of ${names[0].split(".").pop()}` : names[0].split(".").slice(-2, -1)[0] || "", alias: i > 0, props };
      types.push(t);
      byName.set(name, t);
    });
  }
  types.sort((a, b) => a.name.localeCompare(b.name));
  const flowProps = Object.entries(schema.properties || {}).map(([name, p]) => ({
    name, detail: typeName(p), description: p.description || "", required: (schema.required || []).includes(name), enum: p.enum,
  }));
  const inputProps = Object.entries((((schema.properties || {}).inputs || {}).items || {}).properties || {}).map(([name, p]) => ({
    name, detail: typeName(p), description: p.description || "", enum: p.enum,
  }));
  const inputTypes = ((((schema.properties || {}).inputs || {}).items || {}).properties || {}).type;
  return { types, byName, flowProps, inputProps, inputTypes: (inputTypes && inputTypes.enum) || [] };
}

/** Where a line's key starts and which key it is: `{col, key, dash}` or null. */
function keyAt(line) {
  const m = line.match(/^(\s*)((?:-\s+)*)([^\s#:'"-][^:#]*)?(:(?=\s|$))?/);
  if (!m || line.trim() === "" || /^\s*#/.test(line)) return null;
  return { indent: m[1].length, col: m[1].length + m[2].length, key: m[4] ? m[3] : null, dash: m[2].length > 0 };
}

/**
 * The mapping the line `at` belongs to, its key column `col`: its keys, and the path of keys
 * leading to it (`["tasks", "-"]` for a task item).
 */
function mappingAround(lines, at, col) {
  const keys = new Map();
  const own = (i) => {
    const k = keyAt(lines[i]);
    if (k && k.col === col && k.key) keys.set(k.key.trim(), i);
    return k;
  };
  let start = at;
  let dashed = false;
  for (let i = at; i >= 0; i--) {
    const k = i === at ? keyAt(lines[i]) : own(i);
    if (!k) continue;
    if (k.col === col && k.dash) { start = i; dashed = true; break; }
    if (k.col < col) { start = i + 1; break; }
    start = i;
  }
  for (let i = at + 1; i < lines.length; i++) {
    const k = keyAt(lines[i]);
    if (!k) continue;
    if (k.indent < col || (k.col === col && k.dash)) break;
    if (k.col === col && k.key) keys.set(k.key.trim(), i);
  }
  // The path: walk up through keys with a smaller column.
  const path = [];
  let c = col;
  if (dashed) path.unshift("-");
  for (let i = start - (dashed ? 0 : 1); i >= 0 && c > 0; i--) {
    const k = keyAt(lines[i]);
    if (!k) continue;
    if (dashed && i === start) {
      // `- key:` lines: the dash's column is the list's; its parent key is further up.
      c = k.indent;
      continue;
    }
    if (k.col < c && k.key) {
      path.unshift(k.key.trim());
      c = k.indent;
      if (k.dash) path.unshift("-");
    } else if (k.col < c) {
      c = k.indent;
    }
  }
  return { keys, path };
}

/** What to complete at the caret: `{from, to, word, items, kind}` or null. */
function completionAt(text, pos, idx) {
  if (!idx) return null;
  const lineStart = text.lastIndexOf("\n", pos - 1) + 1;
  let lineEnd = text.indexOf("\n", pos);
  if (lineEnd < 0) lineEnd = text.length;
  const before = text.slice(lineStart, pos);
  const lines = text.split("\n");
  const at = text.slice(0, lineStart).split("\n").length - 1;
  const tm = before.match(/^(\s*(?:-\s+)*)type:\s+([\w.]*)$/);
  if (tm) {
    const col = tm[1].length;
    const { path } = mappingAround(lines, at, col);
    const word = tm[2];
    const restOfLine = text.slice(pos, lineEnd).match(/^[\w.]*/)[0];
    let items;
    if (path[0] === "inputs") items = idx.inputTypes.map((n) => ({ name: n, detail: "input type", description: "" }));
    else if (path[0] === "triggers") return null;
    else items = idx.types;
    return { from: pos - word.length, to: pos + restOfLine.length, word, items: filter(items, word), kind: "type" };
  }
  const km = before.match(/^(\s*(?:-\s+)*)([A-Za-z_][\w-]*)?$/);
  if (km) {
    const col = km[1].length;
    const word = km[2] || "";
    const after = text.slice(pos, lineEnd);
    if (/:/.test(after)) return null;
    const { keys, path } = mappingAround(lines, at, col);
    keys.delete(word);
    let items = [];
    if (col === 0 && !km[1].includes("-")) items = idx.flowProps;
    else if (path[0] === "inputs" && path.length === 2) items = idx.inputProps;
    else if (path[path.length - 1] === "-" && path[0] !== "triggers" && path[0] !== "inputs" && path[0] !== "pluginDefaults") {
      const typeLine = keys.get("type");
      const tv = typeLine !== undefined ? (lines[typeLine].match(/type:\s*([\w.]+)/) || [])[1] : null;
      const t = tv && idx.byName.get(tv);
      items = t ? t.props : (idx.types[0] ? idx.types[0].props.filter((p) => ["id", "type", "description", "retry", "timeout", "disabled", "allowFailure", "runIf", "logLevel"].includes(p.name)) : []);
    } else return null;
    items = items.filter((p) => !keys.has(p.name));
    return { from: pos - word.length, to: pos + after.match(/^[\w-]*/)[0].length, word, items: filter(items, word), kind: "key" };
  }
  return null;
}

/** Items matching what is typed: prefix first, then the last segment, then anywhere. */
function filter(items, word) {
  const w = word.toLowerCase();
  if (!w) return items.slice();
  const scored = [];
  for (const it of items) {
    const n = it.name.toLowerCase();
    const last = n.slice(n.lastIndexOf(".") + 1);
    let s = -1;
    if (n.startsWith(w)) s = 0;
    else if (last.startsWith(w)) s = 1;
    else if (n.includes(w)) s = 2;
    if (s >= 0) scored.push([s, it]);
  }
  // Canonical names before their aliases, then alphabetical (the items already are).
  scored.sort((a, b) => a[0] - b[0] || (a[1].alias ? 1 : 0) - (b[1].alias ? 1 : 0));
  return scored.map((x) => x[1]);
}

// ---------------------------------------------------------------------------------------------
// The editor

function editView(root, { namespace, flowId, create }, signal) {
  let ns = namespace, id = flowId, isNew = create || !flowId;
  let saved = null; // the source last saved or loaded
  let revision = null;
  let problems = [];
  let validateTimer = 0, validateSeq = 0;
  let trapTab = true;
  let comp = null; // the open completion: {from, to, items, sel, kind}
  let lastHtml = [];

  const status = el("span", { class: "wz-status", "data-testid": "editor-status", "data-state": "loading", role: "status", "aria-live": "polite" }, "Loading…");
  const saveBtn = el("button", { type: "button", class: "primary", "data-testid": "editor-save", title: "Save (Ctrl+S)" }, "Save");
  const title = el("div", { class: "wz-title" },
    el("span", { class: "wz-name" }, isNew ? "New flow" : `${ns}.${id}`),
    el("span", { class: "wz-rev" }));
  const help = el("span", { class: "wz-help" }, el("kbd", {}, "Ctrl"), "+", el("kbd", {}, "Space"), " complete · ", el("kbd", {}, "Esc"), " ", el("kbd", {}, "Tab"), " leave");
  const toolbar = el("div", { class: "wz-toolbar" }, title, el("span", { class: "wz-spacer" }), help, status, saveBtn);

  const gutter = el("div", { class: "wz-gutter", "aria-hidden": "true" });
  const pre = el("pre", { class: "wz-pre", "aria-hidden": "true" });
  const ta = el("textarea", {
    class: "wz-input", "data-testid": "flow-editor", spellcheck: "false", autocapitalize: "off", autocomplete: "off",
    autocorrect: "off", wrap: "off", "aria-label": "Flow source (YAML)", "aria-multiline": "true",
    "aria-autocomplete": "list", "aria-describedby": "wz-problems-title",
  });
  const popup = el("div", { class: "wz-complete", role: "listbox", id: "wz-complete", hidden: true });
  const code = el("div", { class: "wz-code" }, pre, ta, popup);
  const scroller = el("div", { class: "wz-scroll" }, gutter, code);
  const problemList = el("ul", { class: "wz-problems", "aria-labelledby": "wz-problems-title" });
  const problemsBox = el("section", { class: "wz-problembox" },
    el("h2", { id: "wz-problems-title", class: "wz-problems-title" }, "Problems"), problemList);
  const message = el("div", { class: "wz-message" });
  root.append(el("div", { class: "wz-editor" }, toolbar, scroller), message, problemsBox);

  // --- rendering

  let metrics = null;
  function measure() {
    const probe = el("span", { class: "wz-probe" }, "x".repeat(100));
    pre.append(probe);
    const r = probe.getBoundingClientRect();
    probe.remove();
    const cs = getComputedStyle(pre);
    metrics = { cw: r.width / 100 || 8, lh: parseFloat(cs.lineHeight) || 20, padTop: parseFloat(cs.paddingTop) || 0, padLeft: parseFloat(cs.paddingLeft) || 0 };
    return metrics;
  }

  function render() {
    const text = ta.value;
    const html = highlight(text);
    const byLine = new Map();
    for (const p of problems) {
      const l = Math.max(1, Math.min(p.line, html.length));
      if (!byLine.has(l)) byLine.set(l, []);
      byLine.get(l).push(p);
    }
    const rows = html.map((h, i) => {
      const ps = byLine.get(i + 1);
      if (!ps) return `<span class="wz-line">${h}</span>`;
      const msgs = ps.map((p) => `<span class="wz-msg${p.stale ? " wz-stale" : ""}" data-testid="editor-problem" data-line="${p.line}" data-column="${p.column}">${esc(p.message)}</span>`).join("");
      return `<span class="wz-line wz-bad">${h}${msgs}</span>`;
    });
    // The textarea's last empty line needs room in the pre too.
    pre.innerHTML = rows.join("\n") + "\n";
    if (lastHtml.length !== html.length || byLine.size || gutter.dataset.bad) {
      const g = [];
      for (let i = 1; i <= html.length; i++) {
        const ps = byLine.get(i);
        g.push(ps ? `<div class="wz-ln wz-ln-bad" title="${esc(ps.map((p) => p.message).join("\n"))}">${i}</div>` : `<div class="wz-ln">${i}</div>`);
      }
      gutter.innerHTML = g.join("");
      gutter.dataset.bad = byLine.size ? "1" : "";
    }
    lastHtml = html;
    squiggles();
  }

  /** A wavy underline at each problem's column, to the end of its word. */
  function squiggles() {
    code.querySelectorAll(".wz-squiggle").forEach((n) => n.remove());
    if (!problems.length) return;
    const m = metrics || measure();
    const lines = ta.value.split("\n");
    for (const p of problems) {
      const line = lines[p.line - 1];
      if (line === undefined) continue;
      const c = Math.max(0, Math.min(p.column - 1, line.length));
      let e = c;
      while (e < line.length && !/\s/.test(line[e])) e++;
      if (e === c) e = c + 1;
      code.append(el("div", {
        class: "wz-squiggle", "aria-hidden": "true",
        style: `top:${m.padTop + (p.line - 1) * m.lh + m.lh - 3}px;left:${m.padLeft + c * m.cw}px;width:${(e - c) * m.cw}px`,
      }));
    }
  }

  function renderProblems() {
    problemList.replaceChildren(...problems.map((p) => el("li", {},
      el("button", { type: "button", class: "wz-problem", "data-testid": "editor-problem-item", "data-line": p.line, "data-column": p.column, onclick: () => moveTo(p.line, p.column) },
        el("span", { class: "wz-loc" }, `${p.line}:${p.column}`),
        el("span", {}, p.message, p.hint ? el("span", { class: "wz-hint" }, ` — ${p.hint}`) : null)))));
    problemsBox.hidden = problems.length === 0;
    problemsBox.querySelector("h2").textContent = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  }

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function refreshStatus() {
    if (status.dataset.state === "saving") return;
    const dirty = ta.value !== saved;
    if (problems.length) setStatus("invalid", problems.length === 1 ? "1 problem" : `${problems.length} problems`);
    else if (dirty) setStatus("dirty", "Unsaved changes");
    else if (revision !== null) setStatus("saved", `Saved · revision ${revision}`);
    else setStatus("valid", "Valid");
  }

  function moveTo(line, column) {
    const lines = ta.value.split("\n");
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    pos += Math.max(0, Math.min(column - 1, (lines[line - 1] || "").length));
    ta.focus();
    ta.setSelectionRange(pos, pos);
    reveal();
  }

  /** Scrolls the box so the caret is visible (the textarea itself never scrolls). */
  function reveal() {
    const m = metrics || measure();
    const pos = ta.selectionEnd;
    const before = ta.value.slice(0, pos);
    const line = before.split("\n").length - 1;
    const col = pos - (before.lastIndexOf("\n") + 1);
    const y = m.padTop + line * m.lh, x = m.padLeft + col * m.cw + gutter.offsetWidth;
    if (y < scroller.scrollTop) scroller.scrollTop = y - m.lh;
    else if (y + m.lh * 2 > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = y + m.lh * 2 - scroller.clientHeight;
    if (x < scroller.scrollLeft + gutter.offsetWidth) scroller.scrollLeft = Math.max(0, x - gutter.offsetWidth - 40);
    else if (x + m.cw * 2 > scroller.scrollLeft + scroller.clientWidth) scroller.scrollLeft = x + 40 - scroller.clientWidth;
  }

  // --- validation

  function scheduleValidate() {
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, 300);
  }

  async function validate() {
    const seq = ++validateSeq;
    const text = ta.value;
    if (!text.trim()) {
      problems = [{ line: 1, column: 1, message: "the flow is empty" }];
      render(); renderProblems(); refreshStatus();
      return;
    }
    try {
      const res = await api("flows/validate", { method: "POST", body: text, type: "application/x-yaml" });
      if (seq !== validateSeq || signal.aborted) return;
      problems = (Array.isArray(res) ? res : []).flatMap((r) => r.errors || []);
      root.classList.remove("wz-pending");
      problems.sort((a, b) => a.line - b.line || a.column - b.column);
      render(); renderProblems(); refreshStatus();
    } catch (e) {
      if (seq !== validateSeq || signal.aborted) return;
      setStatus("error", "Could not validate");
    }
  }

  // --- saving

  async function save() {
    if (status.dataset.state === "saving") return;
    clearTimeout(validateTimer);
    setStatus("saving", "Saving…");
    saveBtn.disabled = true;
    message.replaceChildren();
    const text = ta.value;
    try {
      const f = isNew
        ? await api("flows", { method: "POST", body: text, type: "application/x-yaml" })
        : await api(flowPath(ns, id), { method: "PUT", body: text, type: "application/x-yaml" });
      if (signal.aborted) return;
      saved = text;
      revision = f.revision;
      problems = [];
      status.dataset.state = "";
      render(); renderProblems(); refreshStatus();
      title.querySelector(".wz-rev").textContent = `revision ${f.revision}`;
      if (isNew) {
        isNew = false;
        ns = f.namespace; id = f.id;
        sessionStorage.setItem("weir.editor.saved", `${f.namespace}.${f.id}:${f.revision}`);
        go(`/ui/flows/${enc(f.namespace)}/${enc(f.id)}/edit`);
      }
    } catch (e) {
      if (signal.aborted) return;
      status.dataset.state = "";
      const errs = e && e.body && e.body.errors;
      if (Array.isArray(errs) && errs.length) {
        problems = errs;
        render(); renderProblems();
      } else {
        message.replaceChildren(errorBox(e));
      }
      refreshStatus();
      if (!errs || !errs.length) setStatus("error", "Not saved");
    } finally {
      saveBtn.disabled = false;
    }
  }

  // --- editing keys

  function insert(s, from = ta.selectionStart, to = ta.selectionEnd) {
    ta.setSelectionRange(from, to);
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    if (!document.execCommand || !document.execCommand("insertText", false, s)) {
      ta.setRangeText(s, from, to, "end");
      ta.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  function lineBounds(pos) {
    const v = ta.value;
    const s = v.lastIndexOf("\n", pos - 1) + 1;
    let e = v.indexOf("\n", pos);
    if (e < 0) e = v.length;
    return [s, e];
  }

  /** Indents (or outdents) every line the selection touches by two spaces. */
  function shiftLines(out) {
    const v = ta.value;
    const [s] = lineBounds(ta.selectionStart);
    const endPos = ta.selectionEnd > ta.selectionStart && v[ta.selectionEnd - 1] === "\n" ? ta.selectionEnd - 1 : ta.selectionEnd;
    const [, e] = lineBounds(endPos);
    const block = v.slice(s, e).split("\n");
    let firstDelta = 0, total = 0;
    const changed = block.map((l, i) => {
      let d;
      if (out) { const n = Math.min(2, l.match(/^ */)[0].length); d = -n; l = l.slice(n); }
      else { d = 2; l = "  " + l; }
      if (i === 0) firstDelta = d;
      total += d;
      return l;
    });
    const a = ta.selectionStart, b = ta.selectionEnd;
    insert(changed.join("\n"), s, e);
    ta.setSelectionRange(Math.max(s, a + firstDelta), Math.max(s, b + total));
  }

  function onKey(e) {
    if (comp && !popup.hidden) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const n = comp.items.length;
        comp.sel = (comp.sel + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
        drawCompletion();
        return;
      }
      if (e.key === "PageDown" || e.key === "PageUp") {
        e.preventDefault();
        comp.sel = Math.max(0, Math.min(comp.items.length - 1, comp.sel + (e.key === "PageDown" ? 8 : -8)));
        drawCompletion();
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey) {
        e.preventDefault();
        accept(comp.items[comp.sel]);
        return;
      }
      if (e.key === "Escape") { e.preventDefault(); closeCompletion(); return; }
    }
    if ((e.ctrlKey || e.metaKey) && (e.key === "s" || e.key === "S")) { e.preventDefault(); save(); return; }
    if ((e.ctrlKey || e.metaKey) && (e.key === " " || e.code === "Space")) { e.preventDefault(); openCompletion(true); return; }
    if (e.key === "Escape") { trapTab = false; return; }
    if (e.key === "Tab" && !e.ctrlKey && !e.altKey && !e.metaKey) {
      if (!trapTab) return; // after Esc, Tab leaves the editor
      e.preventDefault();
      if (e.shiftKey) shiftLines(true);
      else if (ta.value.slice(ta.selectionStart, ta.selectionEnd).includes("\n")) shiftLines(false);
      else insert("  ");
      return;
    }
    trapTab = true;
    if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && !e.altKey && !e.isComposing) {
      e.preventDefault();
      const [s] = lineBounds(ta.selectionStart);
      const before = ta.value.slice(s, ta.selectionStart);
      let indent = before.match(/^ */)[0];
      const dash = before.match(/^( *)((?:- +)+)\S/);
      if (dash) indent = " ".repeat(dash[1].length + dash[2].length);
      if (/:\s*$/.test(before) || /:\s*[|>][-+0-9]*\s*$/.test(before)) indent += "  ";
      else if (/^\s*-\s*$/.test(before)) indent = before.match(/^ */)[0];
      insert("\n" + indent);
      return;
    }
    if (e.key === "Backspace" && ta.selectionStart === ta.selectionEnd) {
      const [s] = lineBounds(ta.selectionStart);
      const before = ta.value.slice(s, ta.selectionStart);
      if (before.length >= 2 && /^ +$/.test(before) && before.length % 2 === 0) {
        e.preventDefault();
        insert("", ta.selectionStart - 2, ta.selectionStart);
      }
    }
  }

  // --- completion

  let schemaIdx = null;
  async function openCompletion(explicit) {
    if (!schemaIdx) schemaIdx = await loadSchema();
    if (signal.aborted) return;
    if (!schemaIdx) {
      if (explicit) setStatus(status.dataset.state || "error", "Completion unavailable: no schema from the server");
      return;
    }
    const c = completionAt(ta.value, ta.selectionStart, schemaIdx);
    if (!c || !c.items.length || (!explicit && c.items.length === 1 && c.items[0].name === c.word)) {
      closeCompletion();
      return;
    }
    const prev = comp && comp.items[comp.sel];
    const sel = prev ? Math.max(0, c.items.indexOf(prev)) : 0;
    comp = { ...c, sel };
    drawCompletion();
  }

  function closeCompletion() {
    comp = null;
    popup.hidden = true;
    popup.replaceChildren();
    ta.removeAttribute("aria-activedescendant");
    ta.setAttribute("aria-expanded", "false");
  }

  function drawCompletion() {
    const m = metrics || measure();
    const max = 200;
    const items = comp.items.slice(0, max);
    if (comp.sel >= items.length) comp.sel = 0;
    const sel = items[comp.sel];
    const list = el("ul", { class: "wz-complete-list" }, items.map((it, i) => el("li", {
      id: `wz-opt-${i}`, role: "option", class: "wz-opt", "aria-selected": i === comp.sel ? "true" : "false",
      onmousedown: (e) => { e.preventDefault(); accept(it); },
    },
    el("span", { class: "wz-opt-name" }, label(it.name, comp.word)),
    el("span", { class: "wz-opt-detail" }, it.detail || ""))));
    const doc = el("div", { class: "wz-doc" },
      el("div", { class: "wz-doc-name" }, sel.name.split(".").flatMap((p, i) => (i ? [".", el("wbr"), p] : [p]))),
      sel.description ? el("div", { class: "wz-doc-text" }, sel.description) : el("div", { class: "wz-doc-text wz-muted" }, "No description."),
      sel.props ? el("div", { class: "wz-doc-props" }, `${sel.props.length} properties`) : null,
      sel.enum ? el("div", { class: "wz-doc-props" }, sel.enum.join(" · ")) : null);
    popup.replaceChildren(list, doc);
    popup.hidden = false;
    ta.setAttribute("aria-expanded", "true");
    ta.setAttribute("aria-controls", "wz-complete");
    ta.setAttribute("aria-activedescendant", `wz-opt-${comp.sel}`);
    // Place it under the start of the word.
    const before = ta.value.slice(0, comp.from);
    const line = before.split("\n").length - 1;
    const col = comp.from - (before.lastIndexOf("\n") + 1);
    const avail = scroller.clientWidth - gutter.offsetWidth;
    const width = Math.min(640, avail - 8);
    popup.style.width = `${width}px`;
    let left = m.padLeft + col * m.cw;
    left = Math.max(scroller.scrollLeft + 4, Math.min(left, scroller.scrollLeft + avail - width - 4));
    // Under the line, or above it when there is no room below.
    let top = m.padTop + (line + 1) * m.lh + 2;
    const h = popup.offsetHeight;
    const lineTop = m.padTop + line * m.lh;
    if (top + h > scroller.scrollTop + scroller.clientHeight && lineTop - h - 2 >= scroller.scrollTop) top = lineTop - h - 2;
    popup.style.top = `${top}px`;
    popup.style.left = `${left}px`;
    const o = list.children[comp.sel];
    if (o) o.scrollIntoView({ block: "nearest" });
  }

  function label(name, word) {
    if (!word) return name;
    const i = name.toLowerCase().indexOf(word.toLowerCase());
    if (i < 0) return name;
    return [name.slice(0, i), el("mark", {}, name.slice(i, i + word.length)), name.slice(i + word.length)];
  }

  function accept(it) {
    if (!comp || !it) return;
    const { from, to, kind } = comp;
    closeCompletion();
    if (kind === "key") {
      const after = ta.value.slice(to, to + 2);
      insert(after.startsWith(":") ? it.name : `${it.name}: `, from, to);
    } else {
      insert(it.name, from, to);
    }
    ta.focus();
  }

  // --- wiring

  ta.addEventListener("keydown", onKey, { signal });
  let before = null;
  ta.addEventListener("beforeinput", () => {
    const v = ta.value;
    before = { lines: v.split("\n").length, line: v.slice(0, ta.selectionStart).split("\n").length, endLine: v.slice(0, ta.selectionEnd).split("\n").length };
  }, { signal });
  ta.addEventListener("input", (e) => {
    // Until the server answers, problems below the edit follow their lines, and those on the
    // edited lines are shown as pending.
    if (before && problems.length) {
      const delta = ta.value.split("\n").length - before.lines;
      problems = problems.map((p) => {
        if (p.line > before.endLine) return { ...p, line: p.line + delta };
        if (p.line >= before.line) return { ...p, stale: true };
        return p;
      });
      renderProblems();
    }
    before = null;
    root.classList.add("wz-pending");
    render();
    refreshStatus();
    scheduleValidate();
    reveal();
    const typed = e.inputType && e.inputType.startsWith("insert") && e.data;
    if (comp) openCompletion(false);
    else if (typed) {
      const pos = ta.selectionStart;
      const [s] = lineBounds(pos);
      const before = ta.value.slice(s, pos);
      if (/^\s*(-\s+)*type:\s+[\w.]*$/.test(before) || /^\s*(-\s+)*[A-Za-z_]\w*$/.test(before) && !/^\s*(-\s+)*(id|type)$/.test(before) && before.trim().length >= 2) openCompletion(false);
    }
  }, { signal });
  ta.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== ta) closeCompletion(); }, 100), { signal });
  ta.addEventListener("click", () => { if (comp) closeCompletion(); }, { signal });
  saveBtn.addEventListener("click", save, { signal });
  window.addEventListener("beforeunload", (e) => { if (saved !== null && ta.value !== saved) e.preventDefault(); }, { signal });
  if (window.ResizeObserver) {
    const ro = new ResizeObserver(() => { metrics = null; squiggles(); });
    ro.observe(pre);
    signal.addEventListener("abort", () => ro.disconnect());
  }
  signal.addEventListener("abort", () => clearTimeout(validateTimer));

  // --- loading

  (async () => {
    let text = NEW_FLOW;
    if (!isNew) {
      try {
        const f = await api(flowPath(ns, id));
        if (signal.aborted) return;
        text = f.source;
        revision = f.revision;
        title.querySelector(".wz-rev").textContent = `revision ${f.revision}`;
      } catch (e) {
        if (signal.aborted) return;
        message.replaceChildren(errorBox(e));
        setStatus("error", "Not loaded");
        return;
      }
    }
    saved = isNew ? null : text;
    ta.value = text;
    render();
    renderProblems();
    refreshStatus();
    const justSaved = sessionStorage.getItem("weir.editor.saved");
    if (justSaved && justSaved === `${ns}.${id}:${revision}`) {
      sessionStorage.removeItem("weir.editor.saved");
      setStatus("saved", `Saved · revision ${revision}`);
    }
    validate();
    if (isNew) ta.focus();
    loadSchema();
  })();
}

// ---------------------------------------------------------------------------------------------
// Revisions

function revisionsView(root, ns, id, signal) {
  const box = el("div", { class: "wz-revs" }, el("p", { class: "wz-muted" }, "Loading revisions…"));
  root.append(box);
  let mode = matchMedia("(max-width: 760px)").matches ? "unified" : localStorage.getItem("weir.diff.mode") || "split";
  (async () => {
    let revs;
    try {
      revs = await api(`${flowPath(ns, id)}/revisions`);
    } catch (e) {
      if (!signal.aborted) box.replaceChildren(errorBox(e));
      return;
    }
    if (signal.aborted) return;
    revs = (revs || []).slice().sort((a, b) => b.revision - a.revision);
    if (!revs.length) { box.replaceChildren(el("p", {}, "No revisions.")); return; }
    let to = revs[0].revision;
    let from = revs.length > 1 ? revs[1].revision : revs[0].revision;
    const byRev = new Map(revs.map((r) => [r.revision, r]));

    const list = el("ol", { class: "wz-revlist", "aria-label": "Revisions" });
    const selFrom = el("select", { "aria-label": "Compare from revision", "data-testid": "diff-from" });
    const selTo = el("select", { "aria-label": "Compare to revision", "data-testid": "diff-to" });
    for (const r of revs) {
      selFrom.append(el("option", { value: r.revision }, `revision ${r.revision}`));
      selTo.append(el("option", { value: r.revision }, `revision ${r.revision}`));
    }
    const modeBtns = el("div", { class: "wz-seg", role: "group", "aria-label": "Diff layout" },
      ["split", "unified"].map((m) => el("button", { type: "button", "data-mode": m, "aria-pressed": "false", onclick: () => { mode = m; localStorage.setItem("weir.diff.mode", m); draw(); } }, m === "split" ? "Side by side" : "Unified")));
    const summary = el("span", { class: "wz-diffstat" });
    const restore = el("button", { type: "button", "data-testid": "revision-restore" }, "Restore");
    const view = el("div", { class: "wz-diff", "data-testid": "revision-diff" });
    const head = el("div", { class: "wz-diffhead" },
      el("label", {}, "From ", selFrom), el("span", { "aria-hidden": "true" }, "→"), el("label", {}, "To ", selTo),
      summary, el("span", { class: "wz-spacer" }), modeBtns, restore);
    box.replaceChildren(el("div", { class: "wz-revgrid" }, el("aside", { class: "wz-revside" }, el("h2", {}, `${revs.length} revision${revs.length === 1 ? "" : "s"}`), list), el("section", { class: "wz-revmain" }, head, view)));
    selFrom.addEventListener("change", () => { from = +selFrom.value; draw(); });
    selTo.addEventListener("change", () => { to = +selTo.value; draw(); });
    restore.addEventListener("click", async () => {
      const r = byRev.get(to);
      if (!r || !confirm(`Save revision ${r.revision}'s source as a new revision?`)) return;
      restore.disabled = true;
      try {
        await api(flowPath(ns, id), { method: "PUT", body: r.source, type: "application/x-yaml" });
        go(`/ui/flows/${enc(ns)}/${enc(id)}/revisions`, { replace: true });
      } catch (e) {
        view.before(errorBox(e));
      } finally {
        restore.disabled = false;
      }
    });

    function draw() {
      selFrom.value = from; selTo.value = to;
      list.replaceChildren(...revs.map((r) => el("li", {},
        el("button", {
          type: "button", class: "wz-revitem", "data-testid": "revision", "data-revision": r.revision,
          "aria-current": r.revision === to ? "true" : null, "data-from": r.revision === from ? "true" : null,
          title: "Compare with the revision before it",
          onclick: () => { to = r.revision; const older = revs.find((x) => x.revision < r.revision); from = older ? older.revision : r.revision; draw(); },
        },
        el("span", { class: "wz-revnum" }, `#${r.revision}`),
        el("span", { class: "wz-revdate" }, when(r.updated)),
        r.revision === revs[0].revision ? el("span", { class: "wz-badge" }, "latest") : null))));
      modeBtns.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.mode === mode)));
      restore.hidden = to === revs[0].revision;
      restore.textContent = `Restore #${to}`;
      const a = (byRev.get(from) || {}).source || "", b = (byRev.get(to) || {}).source || "";
      const ops = diffLines(a.replace(/\n$/, "").split("\n"), b.replace(/\n$/, "").split("\n"));
      const st = stats(ops);
      summary.replaceChildren(el("span", { class: "wz-add" }, `+${st.add}`), " ", el("span", { class: "wz-del" }, `−${st.del}`));
      view.replaceChildren(renderDiff(ops, mode, from === to));
    }
    draw();
  })();
}

function renderDiff(ops, mode, same) {
  const hs = hunks(ops, 3);
  if (!hs.length) return el("p", { class: "wz-nodiff" }, same ? "Choose two different revisions to compare." : "These revisions have the same source.");
  const hl = (t) => {
    const s = el("span", { class: "wz-dtext" });
    s.innerHTML = highlight(t)[0] || "";
    return s;
  };
  const rows = [];
  const skip = (n) => el("tr", { class: "wz-skip" }, el("td", { colspan: mode === "split" ? 4 : 3 }, `⋯ ${n} unchanged line${n === 1 ? "" : "s"}`));
  for (const h of hs) {
    if (h.skipped) rows.push(skip(h.skipped));
    if (mode === "unified") {
      for (const o of h.lines) {
        rows.push(el("tr", { class: `wz-d-${o.op}` },
          el("td", { class: "wz-dn" }, o.a || ""), el("td", { class: "wz-dn" }, o.b || ""),
          el("td", { class: "wz-dc" }, el("span", { class: "wz-sign", "aria-label": o.op === "add" ? "added" : o.op === "del" ? "removed" : null }, o.op === "add" ? "+" : o.op === "del" ? "−" : " "), hl(o.text))));
      }
    } else {
      // Pair deletions with the additions that follow them.
      const ls = h.lines;
      for (let i = 0; i < ls.length;) {
        if (ls[i].op === "eq") {
          const o = ls[i++];
          rows.push(el("tr", { class: "wz-d-eq" }, el("td", { class: "wz-dn" }, o.a), el("td", { class: "wz-dc" }, hl(o.text)), el("td", { class: "wz-dn" }, o.b), el("td", { class: "wz-dc" }, hl(o.text))));
          continue;
        }
        const dels = [], adds = [];
        while (i < ls.length && ls[i].op === "del") dels.push(ls[i++]);
        while (i < ls.length && ls[i].op === "add") adds.push(ls[i++]);
        for (let k = 0; k < Math.max(dels.length, adds.length); k++) {
          const d = dels[k], a = adds[k];
          rows.push(el("tr", {},
            el("td", { class: `wz-dn ${d ? "wz-d-del" : "wz-d-none"}` }, d ? d.a : ""),
            el("td", { class: `wz-dc ${d ? "wz-d-del" : "wz-d-none"}` }, d ? hl(d.text) : ""),
            el("td", { class: `wz-dn ${a ? "wz-d-add" : "wz-d-none"}` }, a ? a.b : ""),
            el("td", { class: `wz-dc ${a ? "wz-d-add" : "wz-d-none"}` }, a ? hl(a.text) : "")));
        }
      }
    }
  }
  if (hs.trailing) rows.push(skip(hs.trailing));
  return el("div", { class: "wz-diffscroll" }, el("table", { class: `wz-difftable wz-${mode}` }, el("tbody", {}, rows)));
}
