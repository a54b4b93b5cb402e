// The router: one page module per address; addresses are Kestra's, so they can be bookmarked
// and shared. Each page module exports `render(main, params, query)` and may return a cleanup.

import { el } from "./dom.js";

const routes = [
  [/^\/ui\/?$/, () => ({ page: "flows" })],
  [/^\/ui\/flows\/?$/, () => ({ page: "flows" })],
  [/^\/ui\/flows\/new\/?$/, () => ({ page: "flow", params: { create: true } })],
  [/^\/ui\/flows\/([^/]+)\/([^/]+)(?:\/([a-z]+))?\/?$/, (m) => ({ page: "flow", params: { namespace: m[1], flowId: m[2], tab: m[3] || "overview" } })],
  [/^\/ui\/executions\/?$/, () => ({ page: "executions" })],
  [/^\/ui\/executions\/([^/]+)\/([^/]+)\/([^/]+)(?:\/([a-z]+))?\/?$/, (m) => ({ page: "execution", params: { namespace: m[1], flowId: m[2], executionId: m[3], tab: m[4] || "gantt" } })],
  [/^\/ui\/kv\/?$/, () => ({ page: "kv" })],
  [/^\/ui\/warehouse\/?$/, () => ({ page: "warehouse" })],
];

let cleanup = null;

async function show() {
  const path = decodeURI(location.pathname);
  const main = document.getElementById("main");
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  let match = null;
  for (const [re, f] of routes) {
    const m = path.match(re);
    if (m) { match = f(m); break; }
  }
  document.querySelectorAll("[data-nav]").forEach((a) => {
    a.toggleAttribute("aria-current", match && (a.dataset.nav === match.page || a.dataset.nav + "s" === match.page || (a.dataset.nav === "flows" && match.page === "flow") || (a.dataset.nav === "executions" && match.page === "execution")));
  });
  main.replaceChildren();
  if (!match) {
    main.append(el("h1", {}, "Not found"), el("p", {}, `No page at ${path}.`));
    return;
  }
  try {
    const mod = await import(`./pages/${match.page}.js`);
    cleanup = await mod.render(main, match.params || {}, new URLSearchParams(location.search));
  } catch (e) {
    main.replaceChildren(el("h1", {}, "Something went wrong"), el("pre", { class: "error" }, String(e && e.stack || e)));
  }
}

/** Moves to another address of the UI without reloading. */
export function go(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  show();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[href]");
  if (!a || a.target || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin === location.origin && url.pathname.startsWith("/ui")) {
    e.preventDefault();
    go(url.pathname + url.search);
  }
});
window.addEventListener("popstate", show);

const theme = localStorage.getItem("weir.theme");
if (theme) document.documentElement.dataset.theme = theme;
document.getElementById("theme").addEventListener("click", () => {
  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  const now = document.documentElement.dataset.theme || (dark ? "dark" : "light");
  const next = now === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  localStorage.setItem("weir.theme", next);
});

show();
