//! Source translation from Kestra's Pebble dialect into template source minijinja understands.
//!
//! Pebble and Jinja share most of their syntax; the differences Kestra flows rely on are
//! rewritten at the token level, inside `{{ }}` / `{% %}` only, so text and string literals are
//! never touched:
//!
//! * `a ?? b` (null-coalescing) and `a ??? b` (undefined-coalescing), where `a` may be a missing
//!   attribute path: paths become `__weir_get(root, 'k', ...)`, which yields undefined instead
//!   of failing, and the operator becomes an inline `if`;
//! * `cond ? a : b` ternaries, `a..b` ranges (Pebble's `range` is inclusive), `contains`, `equals`, `null`;
//! * `{% elseif %}`, `{% verbatim %}`, and Pebble's 0-based `loop.index` / `loop.revindex`.
//!
//! Newlines are preserved so line numbers reported by minijinja stay meaningful; an offset map
//! translates positions in the output back to the original template.

use std::ops::Range;

/// The translated source plus enough bookkeeping to map error positions back.
pub(crate) struct Translated {
    pub source: String,
    /// `(output offset, original offset, original length)` at the start of every chunk, copied
    /// or rewritten.
    anchors: Vec<(usize, usize, usize)>,
}

impl Translated {
    /// Maps a byte offset in the translated source to the nearest offset in the original.
    /// Inside a rewritten chunk longer than its original, offsets past the original's length
    /// map to its end: never past the original text.
    pub fn original_offset(&self, out: usize) -> usize {
        let idx = self.anchors.partition_point(|(o, _, _)| *o <= out);
        match idx.checked_sub(1).and_then(|i| self.anchors.get(i)) {
            Some((o, s, len)) => s + (out - o).min(*len),
            None => out,
        }
    }
}

/// One lexical region of a template.
#[derive(Debug)]
enum Region {
    /// Literal text, comments and raw blocks: copied verbatim.
    Verbatim(Range<usize>),
    /// `{{ ... }}`: `open` and `close` include whitespace-control markers.
    Print {
        open: Range<usize>,
        inner: Range<usize>,
        close: Range<usize>,
    },
    /// `{% ... %}`.
    Block {
        open: Range<usize>,
        inner: Range<usize>,
        close: Range<usize>,
    },
    /// Pebble's `{% verbatim %}` block: its body is kept as is, the tags become `raw`.
    PebbleVerbatim { body: Range<usize> },
}

/// Splits a template into regions. Never fails: unterminated tags are left verbatim so that
/// minijinja reports the syntax error.
fn scan(src: &str) -> Vec<Region> {
    let bytes = src.as_bytes();
    let mut regions = Vec::new();
    let mut text_start = 0;
    let mut i = 0;
    while let Some(rel) = src[i..].find('{') {
        let p = i + rel;
        let kind = bytes.get(p + 1).copied();
        if !matches!(kind, Some(b'{' | b'%' | b'#')) {
            i = p + 1;
            continue;
        }
        let mut inner_start = p + 2;
        if matches!(bytes.get(inner_start), Some(b'-' | b'+')) {
            inner_start += 1;
        }
        let found = match kind {
            Some(b'#') => src[p + 2..].find("#}").map(|r| {
                let end = p + 2 + r + 2;
                (Region::Verbatim(p..end), end)
            }),
            Some(b'{') => find_tag_end(src, inner_start, b'}', true).map(|(inner_end, end)| {
                (
                    Region::Print {
                        open: p..inner_start,
                        inner: inner_start..inner_end,
                        close: inner_end..end,
                    },
                    end,
                )
            }),
            _ => find_tag_end(src, inner_start, b'%', false).map(|(inner_end, end)| {
                let word = first_word(&src[inner_start..inner_end]);
                if word == "raw" || word == "verbatim" {
                    let end_word = if word == "raw" {
                        "endraw"
                    } else {
                        "endverbatim"
                    };
                    match find_end_tag(src, end, end_word) {
                        Some((_, after)) if word == "raw" => (Region::Verbatim(p..after), after),
                        Some((body_end, after)) => (
                            Region::PebbleVerbatim {
                                body: end..body_end,
                            },
                            after,
                        ),
                        // Unterminated raw block: let minijinja complain about it.
                        None => (Region::Verbatim(p..src.len()), src.len()),
                    }
                } else {
                    (
                        Region::Block {
                            open: p..inner_start,
                            inner: inner_start..inner_end,
                            close: inner_end..end,
                        },
                        end,
                    )
                }
            }),
        };
        match found {
            Some((region, end)) => {
                if text_start < p {
                    regions.push(Region::Verbatim(text_start..p));
                }
                regions.push(region);
                text_start = end;
                i = end;
            }
            None => break,
        }
    }
    if text_start < src.len() {
        regions.push(Region::Verbatim(text_start..src.len()));
    }
    regions
}

fn first_word(s: &str) -> &str {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Finds the end of a tag whose closing delimiter is `<close>}` (optionally preceded by a
/// whitespace-control marker), skipping string literals and, for `{{ }}`, nested braces so that
/// `{{ {'a': {'b': 1}} }}` works. Returns (end of inner text, end of tag).
fn find_tag_end(src: &str, from: usize, close: u8, track_braces: bool) -> Option<(usize, usize)> {
    let bytes = src.as_bytes();
    let mut i = from;
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"') => i = skip_string(bytes, i, q),
            b'{' if track_braces => {
                depth += 1;
                i += 1;
            }
            b'}' if track_braces && depth > 0 => {
                depth -= 1;
                i += 1;
            }
            c if c == close && bytes.get(i + 1) == Some(&b'}') => {
                let inner_end = if i > from && matches!(bytes[i - 1], b'-' | b'+') {
                    i - 1
                } else {
                    i
                };
                return Some((inner_end, i + 2));
            }
            _ => i += 1,
        }
    }
    None
}

/// Returns the index just past a string literal starting at `start` (or the end of input).
fn skip_string(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Finds `{% end_word %}` from `from`. Returns (start of the end tag, end of the end tag).
fn find_end_tag(src: &str, from: usize, end_word: &str) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(rel) = src[i..].find("{%") {
        let p = i + rel;
        let mut inner = p + 2;
        if matches!(src.as_bytes().get(inner), Some(b'-' | b'+')) {
            inner += 1;
        }
        if first_word(&src[inner..]) == end_word
            && let Some((_, end)) = find_tag_end(src, inner, b'%', false)
        {
            return Some((p, end));
        }
        i = p + 2;
    }
    None
}

/// Translates a Pebble template into minijinja source.
pub(crate) fn translate(src: &str) -> Translated {
    let mut out = Translated {
        source: String::with_capacity(src.len() + 16),
        anchors: Vec::new(),
    };
    let copy = |out: &mut Translated, range: Range<usize>| {
        out.anchors
            .push((out.source.len(), range.start, range.len()));
        out.source.push_str(&src[range]);
    };
    for region in scan(src) {
        match region {
            Region::Verbatim(r) => copy(&mut out, r),
            Region::PebbleVerbatim { body } => {
                out.source.push_str("{% raw %}");
                copy(&mut out, body);
                out.source.push_str("{% endraw %}");
            }
            Region::Print { open, inner, close } => {
                copy(&mut out, open);
                let rewritten = rewrite_expression(src, inner.clone());
                push_rewritten(&mut out, src, inner, rewritten);
                copy(&mut out, close);
            }
            Region::Block { open, inner, close } => {
                copy(&mut out, open);
                let rewritten = rewrite_statement(src, inner.clone());
                push_rewritten(&mut out, src, inner, rewritten);
                copy(&mut out, close);
            }
        }
    }
    out
}

/// Appends rewritten tag contents; unchanged contents keep an exact position anchor.
fn push_rewritten(out: &mut Translated, src: &str, inner: Range<usize>, rewritten: String) {
    out.anchors
        .push((out.source.len(), inner.start, inner.len()));
    if rewritten == src[inner.clone()] {
        out.source.push_str(&src[inner]);
    } else {
        out.source.push_str(&rewritten);
    }
}

// ---------------------------------------------------------------------------------------------
// Expression tokens

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ws,
    Ident,
    Num,
    Str,
    Op,
    Open,
    Close,
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
}

const MULTI_OPS: [&str; 10] = ["???", "??", "..", "==", "!=", "<=", ">=", "//", "**", "=>"];

fn tokenize(src: &str, range: Range<usize>) -> Vec<Tok> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = range.start;
    let end = range.end;
    while i < end {
        let start = i;
        let c = bytes[i];
        let kind = if c.is_ascii_whitespace() {
            while i < end && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            Kind::Ws
        } else if c == b'\'' || c == b'"' {
            i = skip_string(bytes, i, c).min(end);
            Kind::Str
        } else if c.is_ascii_digit() {
            while i < end && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                i += 1;
            }
            // A fraction needs a digit after the dot: `0..5` is a range, not `0.` + `.5`.
            if i + 1 < end && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
                i += 1;
                while i < end && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < end && matches!(bytes[i], b'e' | b'E') {
                let mut j = i + 1;
                if j < end && matches!(bytes[j], b'+' | b'-') {
                    j += 1;
                }
                if j < end && bytes[j].is_ascii_digit() {
                    i = j;
                    while i < end && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            Kind::Num
        } else if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 {
            while i < end {
                let b = bytes[i];
                if b == b'_' || b.is_ascii_alphanumeric() {
                    i += 1;
                } else if b >= 0x80 {
                    // Consume the whole UTF-8 character; non-ASCII letters are part of names.
                    let ch_len = src[i..].chars().next().map_or(1, char::len_utf8);
                    i += ch_len;
                } else {
                    break;
                }
            }
            Kind::Ident
        } else if matches!(c, b'(' | b'[' | b'{') {
            i += 1;
            Kind::Open
        } else if matches!(c, b')' | b']' | b'}') {
            i += 1;
            Kind::Close
        } else if let Some(op) = MULTI_OPS.iter().find(|op| src[i..end].starts_with(*op)) {
            i += op.len();
            Kind::Op
        } else if b"+-*/%~<>=|.,:?!".contains(&c) {
            i += 1;
            Kind::Op
        } else {
            i += src[i..].chars().next().map_or(1, char::len_utf8);
            Kind::Other
        };
        toks.push(Tok {
            kind,
            start,
            end: i.min(end),
        });
    }
    toks
}

#[derive(Debug)]
enum Node {
    Tok(Tok),
    Group {
        open: Tok,
        body: Vec<Node>,
        close: Option<Tok>,
    },
}

fn closer(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

/// Builds a bracket tree. A stray closing bracket stays a plain token.
fn build_tree(src: &str, toks: &[Tok]) -> Vec<Node> {
    fn build(
        src: &str,
        toks: &[Tok],
        pos: &mut usize,
        want: Option<u8>,
    ) -> (Vec<Node>, Option<Tok>) {
        let mut nodes = Vec::new();
        while let Some(&tok) = toks.get(*pos) {
            *pos += 1;
            match tok.kind {
                Kind::Open => {
                    let close_byte = closer(src.as_bytes()[tok.start]);
                    let (body, close) = build(src, toks, pos, Some(close_byte));
                    nodes.push(Node::Group {
                        open: tok,
                        body,
                        close,
                    });
                }
                Kind::Close if Some(src.as_bytes()[tok.start]) == want => {
                    return (nodes, Some(tok));
                }
                _ => nodes.push(Node::Tok(tok)),
            }
        }
        (nodes, None)
    }
    let mut pos = 0;
    build(src, toks, &mut pos, None).0
}

// ---------------------------------------------------------------------------------------------
// Rewriting

const KEYWORDS: [&str; 12] = [
    "and", "or", "not", "in", "is", "if", "else", "elif", "for", "set", "contains", "equals",
];

fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

fn rewrite_expression(src: &str, range: Range<usize>) -> String {
    let toks = tokenize(src, range);
    let nodes = build_tree(src, &toks);
    Rewriter { src }.expr(&nodes)
}

fn rewrite_statement(src: &str, range: Range<usize>) -> String {
    let toks = tokenize(src, range);
    let nodes = build_tree(src, &toks);
    let rw = Rewriter { src };
    let Some(first) = nodes.iter().position(|n| !rw.is_ws(n)) else {
        return rw.raw(&nodes);
    };
    let word = rw.ident(&nodes[first]).unwrap_or("");
    // Only the expression part of a statement is rewritten: a ternary's `?` must not swallow
    // the statement keyword.
    let split_at = match word {
        "if" | "elif" | "elseif" => Some(first + 1),
        "set" => nodes
            .iter()
            .position(|n| rw.op(n) == Some("="))
            .map(|i| i + 1),
        "for" => nodes
            .iter()
            .position(|n| rw.ident(n) == Some("in"))
            .map(|i| i + 1),
        _ => None,
    };
    match split_at {
        Some(at) => {
            let head = if word == "elseif" {
                let mut head = rw.raw(&nodes[..first]);
                head.push_str("elif");
                head.push_str(&rw.raw(&nodes[first + 1..at]));
                head
            } else {
                rw.raw(&nodes[..at])
            };
            head + &rw.expr(&nodes[at..])
        }
        None => rw.expr(&nodes),
    }
}

/// A flattened expression element with its rewritten text.
#[derive(Debug)]
struct Item {
    kind: ItemKind,
    text: String,
}

#[derive(Debug, PartialEq)]
enum ItemKind {
    Ws,
    Ident(String),
    Dot,
    Op(String),
    Str,
    Num,
    /// A bracketed group: opening bracket, rewritten inner text, whether a top-level `:` occurs.
    Group(u8, String, bool),
    /// A rewritten sub-expression, already parenthesised.
    Synthetic,
    Other,
}

impl ItemKind {
    /// Can this element start (or be the base of) a postfix chain like `a.b[0](x)`?
    fn is_operand(&self) -> bool {
        match self {
            ItemKind::Ident(name) => !is_keyword(name),
            ItemKind::Str | ItemKind::Num | ItemKind::Group(..) | ItemKind::Synthetic => true,
            _ => false,
        }
    }
}

struct Rewriter<'a> {
    src: &'a str,
}

impl Rewriter<'_> {
    fn text(&self, t: &Tok) -> &str {
        &self.src[t.start..t.end]
    }

    fn raw(&self, nodes: &[Node]) -> String {
        let mut s = String::new();
        for n in nodes {
            self.raw_into(n, &mut s);
        }
        s
    }

    fn raw_into(&self, node: &Node, s: &mut String) {
        match node {
            Node::Tok(t) => s.push_str(self.text(t)),
            Node::Group { open, body, close } => {
                s.push_str(self.text(open));
                for n in body {
                    self.raw_into(n, s);
                }
                if let Some(c) = close {
                    s.push_str(self.text(c));
                }
            }
        }
    }

    fn is_ws(&self, n: &Node) -> bool {
        matches!(n, Node::Tok(t) if t.kind == Kind::Ws)
    }

    fn ident(&self, n: &Node) -> Option<&str> {
        match n {
            Node::Tok(t) if t.kind == Kind::Ident => Some(self.text(t)),
            _ => None,
        }
    }

    fn op(&self, n: &Node) -> Option<&str> {
        match n {
            Node::Tok(t) if t.kind == Kind::Op => Some(self.text(t)),
            _ => None,
        }
    }

    /// Rewrites one expression: a ternary at the top level, else its operators.
    fn expr(&self, nodes: &[Node]) -> String {
        if let Some(q) = nodes.iter().position(|n| self.op(n) == Some("?")) {
            let mut depth = 0usize;
            for (i, n) in nodes.iter().enumerate().skip(q + 1) {
                match self.op(n) {
                    Some("?") => depth += 1,
                    Some(":") if depth == 0 => {
                        return format!(
                            "(({}) if ({}) else ({}))",
                            self.expr(&nodes[q + 1..i]),
                            self.expr(&nodes[..q]),
                            self.expr(&nodes[i + 1..])
                        );
                    }
                    Some(":") => depth -= 1,
                    _ => {}
                }
            }
        }
        self.flat(nodes)
    }

    /// Rewrites the comma-separated contents of a bracket group.
    fn group_body(&self, open: u8, body: &[Node]) -> String {
        let mut out = String::new();
        for (i, piece) in body.split(|n| self.op(n) == Some(",")).enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Dict entries and keyword arguments: only the value part is an expression.
            let split = match open {
                b'{' => piece.iter().position(|n| self.op(n) == Some(":")),
                b'(' => {
                    let first = piece.iter().position(|n| !self.is_ws(n));
                    let eq = piece.iter().position(|n| self.op(n) == Some("="));
                    match (first, eq) {
                        (Some(f), Some(e))
                            if self.ident(&piece[f]).is_some()
                                && piece[f + 1..e].iter().all(|n| self.is_ws(n)) =>
                        {
                            Some(e)
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            match split {
                Some(at) => {
                    if open == b'{' {
                        out.push_str(&self.expr(&piece[..at]));
                    } else {
                        out.push_str(&self.raw(&piece[..at]));
                    }
                    out.push_str(&self.raw(&piece[at..at + 1]));
                    out.push_str(&self.expr(&piece[at + 1..]));
                }
                None => out.push_str(&self.expr(piece)),
            }
        }
        out
    }

    fn to_items(&self, nodes: &[Node]) -> Vec<Item> {
        let mut items: Vec<Item> = Vec::with_capacity(nodes.len());
        for node in nodes {
            let item = match node {
                Node::Group { open, body, close } => {
                    let open_byte = self.src.as_bytes()[open.start];
                    let inner = self.group_body(open_byte, body);
                    let has_colon = body.iter().any(|n| self.op(n) == Some(":"));
                    let mut text = String::from(self.text(open));
                    text.push_str(&inner);
                    if let Some(c) = close {
                        text.push_str(self.text(c));
                    }
                    Item {
                        kind: ItemKind::Group(open_byte, inner, has_colon),
                        text,
                    }
                }
                Node::Tok(t) => {
                    let text = self.text(t);
                    let after_dot = prev_non_ws(&items, items.len())
                        .is_some_and(|i| items[i].kind == ItemKind::Dot);
                    let kind = match t.kind {
                        Kind::Ws => ItemKind::Ws,
                        Kind::Str => ItemKind::Str,
                        Kind::Num => ItemKind::Num,
                        Kind::Op if text == "." => ItemKind::Dot,
                        Kind::Op => ItemKind::Op(text.to_string()),
                        Kind::Ident if !after_dot => match text {
                            // After `is` / `is not`, `null` names weir's `null` test, which
                            // (as in Pebble) also holds for an undefined value; Jinja's `none`
                            // test would not.
                            "null" if follows_is(&items) => ItemKind::Ident(text.to_string()),
                            "null" => {
                                items.push(Item {
                                    kind: ItemKind::Ident("none".into()),
                                    text: "none".into(),
                                });
                                continue;
                            }
                            "equals" => {
                                items.push(Item {
                                    kind: ItemKind::Op("==".into()),
                                    text: "==".into(),
                                });
                                continue;
                            }
                            "contains" => {
                                // Jinja parses `x is test arg`, which matches Pebble's
                                // `x contains arg` closely enough.
                                items.push(Item {
                                    kind: ItemKind::Op("contains".into()),
                                    text: "is __weir_contains".into(),
                                });
                                continue;
                            }
                            _ => ItemKind::Ident(text.to_string()),
                        },
                        Kind::Ident => {
                            // Pebble's loop.index / loop.revindex are 0-based.
                            if matches!(text, "index" | "revindex") && is_loop_attr(&items) {
                                let renamed = format!("{text}0");
                                items.push(Item {
                                    kind: ItemKind::Ident(renamed.clone()),
                                    text: renamed,
                                });
                                continue;
                            }
                            ItemKind::Ident(text.to_string())
                        }
                        Kind::Open | Kind::Close | Kind::Other => ItemKind::Other,
                    };
                    Item {
                        kind,
                        text: text.to_string(),
                    }
                }
            };
            items.push(item);
        }
        items
    }

    /// Rewrites binary Pebble operators in a flat run of nodes (no top-level ternary).
    fn flat(&self, nodes: &[Node]) -> String {
        let mut items = self.to_items(nodes);
        let mut k = 0;
        while k < items.len() {
            let is_coalesce =
                matches!(&items[k].kind, ItemKind::Op(op) if op == "??" || op == "???");
            let is_range = matches!(&items[k].kind, ItemKind::Op(op) if op == "..");
            if !is_coalesce && !is_range {
                k += 1;
                continue;
            }
            let left_start = chain_start(&items, k);
            if left_start == k {
                // No left operand: leave it for minijinja to report.
                k += 1;
                continue;
            }
            let mut operands: Vec<Range<usize>> = Vec::new();
            operands.push(left_start..trim_end(&items, left_start, k));
            let mut ops = Vec::new();
            let mut j = k;
            while let ItemKind::Op(op) = &items[j].kind {
                let op = op.clone();
                let r_start = next_non_ws(&items, j + 1);
                let r_end = chain_end(&items, r_start);
                if r_end == r_start {
                    break;
                }
                operands.push(r_start..r_end);
                ops.push(op);
                let next = next_non_ws(&items, r_end);
                let continues = is_coalesce
                    && matches!(items.get(next).map(|i| &i.kind), Some(ItemKind::Op(op)) if op == "??" || op == "???");
                if !continues {
                    break;
                }
                j = next;
            }
            if ops.is_empty() {
                k += 1;
                continue;
            }
            let end = operands.last().map_or(k, |r| r.end);
            let text = if is_range {
                format!(
                    "range({}, {})",
                    join_items(&items[operands[0].clone()]),
                    join_items(&items[operands[1].clone()])
                )
            } else {
                coalesce_text(&items, &operands, &ops)
            };
            items.splice(
                left_start..end,
                [Item {
                    kind: ItemKind::Synthetic,
                    text,
                }],
            );
            k = left_start + 1;
        }
        concat_segments(&items)
    }
}

/// Whether the next item is the name of a test: the previous words are `is` or `is not`.
fn follows_is(items: &[Item]) -> bool {
    let word = |i: usize| match &items[i].kind {
        ItemKind::Ident(w) => Some(w.as_str()),
        _ => None,
    };
    match prev_non_ws(items, items.len()).map(word) {
        Some(Some("is")) => true,
        Some(Some("not")) => prev_non_ws(items, items.len())
            .and_then(|not_at| prev_non_ws(items, not_at))
            .is_some_and(|i| word(i) == Some("is")),
        _ => false,
    }
}

/// Operators and keywords that bind more loosely than `~` and so end its operands.
fn ends_concat_operand(items: &[Item], i: usize) -> bool {
    match &items[i].kind {
        ItemKind::Op(op) => match op.as_str() {
            "==" | "!=" | "<" | ">" | "<=" | ">=" | "=" | "contains" => true,
            // Binary plus/minus only; a sign right after an operator belongs to the operand.
            "+" | "-" => prev_non_ws(items, i).is_some_and(|p| items[p].kind.is_operand()),
            _ => false,
        },
        ItemKind::Ident(name) => {
            matches!(name.as_str(), "and" | "or" | "not" | "in" | "if" | "else")
        }
        _ => false,
    }
}

/// Rewrites `a ~ b ~ c` into `__weir_concat(a, b, c)`, which stringifies like Pebble
/// (`true` rather than `True`, null as nothing, containers as JSON).
fn concat_segments(items: &[Item]) -> String {
    let has_tilde = |seg: &[Item]| {
        seg.iter()
            .any(|i| matches!(&i.kind, ItemKind::Op(op) if op == "~"))
    };
    if !has_tilde(items) {
        return join_items(items);
    }
    let mut out = String::new();
    let mut seg_start = 0;
    let flush = |out: &mut String, seg: &[Item]| {
        if !has_tilde(seg) {
            out.push_str(&join_items(seg));
            return;
        }
        let operands: Vec<&[Item]> = seg
            .split(|i| matches!(&i.kind, ItemKind::Op(op) if op == "~"))
            .collect();
        if operands
            .iter()
            .any(|o| o.iter().all(|i| i.kind == ItemKind::Ws))
        {
            // A missing operand is a syntax error minijinja should report as written.
            out.push_str(&join_items(seg));
            return;
        }
        // Keep surrounding whitespace outside the call so columns move as little as possible.
        let first = seg.iter().position(|i| i.kind != ItemKind::Ws).unwrap_or(0);
        let last = seg
            .iter()
            .rposition(|i| i.kind != ItemKind::Ws)
            .map_or(seg.len(), |i| i + 1);
        out.push_str(&join_items(&seg[..first]));
        out.push_str("__weir_concat(");
        let inner: Vec<&[Item]> = seg[first..last]
            .split(|i| matches!(&i.kind, ItemKind::Op(op) if op == "~"))
            .collect();
        let parts: Vec<String> = inner.iter().map(|o| join_items(o)).collect();
        out.push_str(&parts.join(","));
        out.push(')');
        out.push_str(&join_items(&seg[last..]));
    };
    for i in 0..items.len() {
        if ends_concat_operand(items, i) {
            flush(&mut out, &items[seg_start..i]);
            out.push_str(&items[i].text);
            seg_start = i + 1;
        }
    }
    flush(&mut out, &items[seg_start..]);
    out
}

fn is_loop_attr(items: &[Item]) -> bool {
    let Some(dot) = prev_non_ws(items, items.len()) else {
        return false;
    };
    if items[dot].kind != ItemKind::Dot || dot == 0 {
        return false;
    }
    let base = dot - 1;
    matches!(&items[base].kind, ItemKind::Ident(n) if n == "loop")
        && !prev_non_ws(items, base).is_some_and(|i| items[i].kind == ItemKind::Dot)
}

fn join_items(items: &[Item]) -> String {
    items.iter().map(|i| i.text.as_str()).collect()
}

fn prev_non_ws(items: &[Item], before: usize) -> Option<usize> {
    (0..before).rev().find(|&i| items[i].kind != ItemKind::Ws)
}

fn next_non_ws(items: &[Item], from: usize) -> usize {
    (from..items.len())
        .find(|&i| items[i].kind != ItemKind::Ws)
        .unwrap_or(items.len())
}

fn trim_end(items: &[Item], start: usize, end: usize) -> usize {
    (start..end)
        .rev()
        .find(|&i| items[i].kind != ItemKind::Ws)
        .map_or(start, |i| i + 1)
}

/// Start index of the postfix chain (`a.b['c'](x)`) that ends right before `op_at`.
/// Returns `op_at` when there is no operand.
fn chain_start(items: &[Item], op_at: usize) -> usize {
    let Some(mut j) = prev_non_ws(items, op_at) else {
        return op_at;
    };
    if !items[j].kind.is_operand() {
        return op_at;
    }
    loop {
        match &items[j].kind {
            ItemKind::Ident(_)
                if j >= 2
                    && items[j - 1].kind == ItemKind::Dot
                    && items[j - 2].kind.is_operand() =>
            {
                j -= 2;
            }
            ItemKind::Group(b'[' | b'(', ..) if j >= 1 && items[j - 1].kind.is_operand() => {
                j -= 1;
            }
            _ => return j,
        }
    }
}

/// End index (exclusive) of the postfix chain starting at `start`, with an optional sign.
fn chain_end(items: &[Item], start: usize) -> usize {
    let mut j = start;
    if matches!(items.get(j).map(|i| &i.kind), Some(ItemKind::Op(op)) if op == "-" || op == "+") {
        j = next_non_ws(items, j + 1);
    }
    match items.get(j) {
        Some(item) if item.kind.is_operand() => j += 1,
        _ => return start,
    }
    loop {
        match items.get(j).map(|i| &i.kind) {
            Some(ItemKind::Dot)
                if matches!(items.get(j + 1).map(|i| &i.kind), Some(ItemKind::Ident(_))) =>
            {
                j += 2;
            }
            Some(ItemKind::Group(b'[' | b'(', ..)) => j += 1,
            _ => return j,
        }
    }
}

/// Operand text that does not fail on missing attributes: plain paths like `a.b['c']` become
/// `__weir_get(a, 'b', 'c')`; anything else (calls, literals) is evaluated as written.
fn lenient_operand(items: &[Item]) -> String {
    let as_path = || -> Option<String> {
        let (first, rest) = items.split_first()?;
        let ItemKind::Ident(root) = &first.kind else {
            return None;
        };
        if is_keyword(root)
            || matches!(
                root.as_str(),
                "true" | "false" | "none" | "True" | "False" | "None"
            )
        {
            return None;
        }
        let mut args = vec![first.text.clone()];
        let mut it = rest.iter();
        while let Some(item) = it.next() {
            match &item.kind {
                ItemKind::Dot => match it.next().map(|i| &i.kind) {
                    Some(ItemKind::Ident(name)) => args.push(format!("'{name}'")),
                    _ => return None,
                },
                ItemKind::Group(b'[', inner, false) => args.push(format!("({inner})")),
                _ => return None,
            }
        }
        if args.len() == 1 {
            // A bare variable: pass it as is (missing variables are plain undefined values).
            return Some(first.text.clone());
        }
        Some(format!("__weir_get({})", args.join(", ")))
    };
    as_path().unwrap_or_else(|| join_items(items))
}

/// Builds the right-nested conditional for `o1 ?? o2 ??? o3 ...`.
fn coalesce_text(items: &[Item], operands: &[Range<usize>], ops: &[String]) -> String {
    let last = operands.len() - 1;
    let mut acc = lenient_operand(&items[operands[last].clone()]);
    for i in (0..last).rev() {
        let operand = lenient_operand(&items[operands[i].clone()]);
        let test = if ops[i] == "???" {
            "defined"
        } else {
            "__weir_present"
        };
        acc = format!("(({operand}) if ({operand}) is {test} else ({acc}))");
    }
    acc
}

/// Every `outputs.<id>` / `outputs['id']` reference with the byte offset of `outputs`.
pub(crate) fn referenced_outputs(src: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for region in scan(src) {
        let inner = match region {
            Region::Print { inner, .. } | Region::Block { inner, .. } => inner,
            _ => continue,
        };
        let toks: Vec<Tok> = tokenize(src, inner)
            .into_iter()
            .filter(|t| t.kind != Kind::Ws)
            .collect();
        for (i, t) in toks.iter().enumerate() {
            if t.kind != Kind::Ident || &src[t.start..t.end] != "outputs" {
                continue;
            }
            if i > 0 && &src[toks[i - 1].start..toks[i - 1].end] == "." {
                continue;
            }
            let (Some(next), Some(name)) = (toks.get(i + 1), toks.get(i + 2)) else {
                continue;
            };
            let next_text = &src[next.start..next.end];
            let name_text = &src[name.start..name.end];
            if next_text == "." && name.kind == Kind::Ident {
                found.push((name_text.to_string(), t.start));
            } else if next_text == "[" && name.kind == Kind::Str {
                found.push((unquote(name_text), t.start));
            }
        }
    }
    found
}

/// Decodes a quoted string literal (simple backslash escapes only).
fn unquote(lit: &str) -> String {
    let inner = lit.get(1..lit.len().saturating_sub(1)).unwrap_or_default();
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// If `src` is exactly one `{{ expr }}`, returns the translated expression.
pub(crate) fn single_expression(src: &str) -> Option<String> {
    match scan(src).as_slice() {
        [Region::Print { open, inner, close }] if open.start == 0 && close.end == src.len() => {
            Some(rewrite_expression(src, inner.clone()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(s: &str) -> String {
        translate(s).source
    }

    #[test]
    fn untouched_without_pebble_syntax() {
        let s = "a {{ x.y['z'] | upper }} {% if a == 1 %}b{% endif %} {# c ?? d #}";
        assert_eq!(tr(s), s);
    }

    #[test]
    fn coalesce_rewrites_paths() {
        assert_eq!(
            tr("{{ a.b ?? 'x' }}"),
            "{{ ((__weir_get(a, 'b')) if (__weir_get(a, 'b')) is __weir_present else ('x')) }}"
        );
    }

    #[test]
    fn elseif_and_ternary() {
        assert_eq!(tr("{% elseif x %}"), "{% elif x %}");
        assert_eq!(tr("{{ c ? 1 : 2 }}"), "{{(( 1 ) if ( c ) else ( 2 ))}}");
        assert_eq!(
            tr("{% set v = c ? 1 : 2 %}"),
            "{% set v =(( 1 ) if ( c ) else ( 2 ))%}"
        );
    }

    #[test]
    fn strings_are_not_rewritten() {
        let s = "{{ 'a ?? b' == \"c ? d : e\" }} ?? text";
        assert_eq!(tr(s), s);
    }

    #[test]
    fn verbatim_becomes_raw() {
        assert_eq!(
            tr("{% verbatim %}{{ a ?? b }}{% endverbatim %}"),
            "{% raw %}{{ a ?? b }}{% endraw %}"
        );
    }

    #[test]
    fn range_operator() {
        assert_eq!(tr("{% for i in 0..3 %}"), "{% for i in range(0, 3) %}");
    }

    #[test]
    fn offsets_map_back() {
        let t = translate("ab {{ x ?? y }} {{ z }}");
        let pos = t.source.find("z }}").unwrap_or(0);
        assert_eq!(t.original_offset(pos), 19);
    }
}
