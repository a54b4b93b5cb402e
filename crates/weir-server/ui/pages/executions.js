// Placeholder until the page is written.
import { el } from "../dom.js";

export function render(main) {
  main.append(el("h1", {}, "executions"));
}
