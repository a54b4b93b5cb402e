// A line diff (longest common subsequence on the lines between a common prefix and suffix),
// and hunks with context for a unified view. No dependencies.

/**
 * The edit script from `a` to `b` (arrays of lines): `[{op: "eq"|"del"|"add", text, a, b}]`,
 * `a`/`b` the 1-based line numbers in each side (absent on the side a line is not in).
 */
export function diffLines(a, b) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length, endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
  const out = [];
  for (let i = 0; i < start; i++) out.push({ op: "eq", text: a[i], a: i + 1, b: i + 1 });
  const n = endA - start, m = endB - start;
  if (n * m > 25_000_000) {
    // Too large for the table: everything in the middle changed.
    for (let i = start; i < endA; i++) out.push({ op: "del", text: a[i], a: i + 1 });
    for (let j = start; j < endB; j++) out.push({ op: "add", text: b[j], b: j + 1 });
  } else {
    // lcs[i][j]: the LCS length of a[start+i..endA] and b[start+j..endB].
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = a[start + i] === b[start + j]
          ? lcs[(i + 1) * w + j + 1] + 1
          : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[start + i] === b[start + j]) {
        out.push({ op: "eq", text: a[start + i], a: start + i + 1, b: start + j + 1 });
        i++; j++;
      } else if (j < m && (i === n || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j])) {
        out.push({ op: "add", text: b[start + j], b: start + j + 1 });
        j++;
      } else {
        out.push({ op: "del", text: a[start + i], a: start + i + 1 });
        i++;
      }
    }
    // Deletions before additions within a change, as people read them.
    for (let k = 0; k < out.length; k++) {
      if (out[k].op !== "add") continue;
      let e = k;
      while (e < out.length && out[e].op !== "eq") e++;
      const run = out.slice(k, e);
      run.sort((x, y) => (x.op === y.op ? 0 : x.op === "del" ? -1 : 1));
      out.splice(k, run.length, ...run);
      k = e;
    }
  }
  for (let i = endA; i < a.length; i++) out.push({ op: "eq", text: a[i], a: i + 1, b: endB + (i - endA) + 1 });
  return out;
}

/** The changed parts of a diff with `context` unchanged lines around each: `[{lines, skipped}]`. */
export function hunks(ops, context = 3) {
  const keep = new Uint8Array(ops.length);
  ops.forEach((o, i) => {
    if (o.op === "eq") return;
    for (let k = Math.max(0, i - context); k <= Math.min(ops.length - 1, i + context); k++) keep[k] = 1;
  });
  const out = [];
  let cur = null, skipped = 0;
  ops.forEach((o, i) => {
    if (keep[i]) {
      if (!cur) { cur = { skipped, lines: [] }; out.push(cur); skipped = 0; }
      cur.lines.push(o);
    } else {
      cur = null;
      skipped++;
    }
  });
  if (out.length) out.trailing = skipped;
  return out;
}

/** How many lines were added and removed. */
export function stats(ops) {
  let add = 0, del = 0;
  for (const o of ops) { if (o.op === "add") add++; else if (o.op === "del") del++; }
  return { add, del };
}
