//! Kestra's internal-storage tasks: `storage.Write`, `Split`, `Concat`, `Size` and `Delete`.
//!
//! Files are read and written as streams (line by line, or copied), so a large file costs
//! bounded memory.

use crate::{Outputs, TaskContext, TaskError, de};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use weir_storage::InternalStorage;

fn io_err(what: &str) -> impl Fn(std::io::Error) -> TaskError + '_ {
    move |e| TaskError::Failed(format!("{what} failed: {e}"))
}

/// An extension as Kestra writes it (`.txt`); a missing dot is added.
fn extension(ext: Option<&str>, default: &str) -> String {
    match ext.map(str::trim) {
        None | Some("") => default.to_string(),
        Some(e) if e.starts_with('.') => e.to_string(),
        Some(e) => format!(".{e}"),
    }
}

/// The extension of the file behind a URI, with its dot (`""` when it has none).
fn extension_of(uri: &str) -> String {
    let name = uri.rsplit('/').next().unwrap_or("");
    match name.rfind('.') {
        Some(i) if i > 0 => name[i..].to_string(),
        _ => String::new(),
    }
}

fn require_uri(uri: &str, prop: &str) -> Result<(), TaskError> {
    if InternalStorage::is_uri(uri.trim()) {
        Ok(())
    } else {
        Err(TaskError::Props(format!(
            "`{prop}` must be a `kestra:///` URI of internal storage, found `{uri}`"
        )))
    }
}

#[derive(Deserialize)]
struct WriteProps {
    content: Value,
    extension: Option<String>,
}

/// `storage.Write`: `content` into a new file of internal storage; outputs `uri`.
pub fn write(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: WriteProps = ctx.props()?;
    let ext = extension(p.extension.as_deref(), ".ion");
    let uri = ctx
        .storage
        .task_file_uri(&ctx.scope(), &format!("write{ext}"));
    let path = ctx.storage.create_path(&uri)?;
    let content = de::scalar_text(p.content);
    std::fs::write(&path, content.as_bytes()).map_err(io_err(&format!("writing `{uri}`")))?;
    let mut out = Outputs::new();
    out.insert("uri".into(), uri.into());
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SplitProps {
    from: String,
    bytes: Option<Value>,
    #[serde(default, deserialize_with = "de::u64_opt")]
    rows: Option<u64>,
    #[serde(default, deserialize_with = "de::u64_opt")]
    partitions: Option<u64>,
    regex_pattern: Option<String>,
    separator: Option<String>,
}

/// `10MB`, `200KB`, `1GB` or a number of bytes (units are powers of 1024, as Kestra reads them).
pub(crate) fn parse_bytes(v: &Value) -> Result<u64, String> {
    let text = de::scalar_text(v.clone());
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let (num, mult) = [
        ("GB", 1u64 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suffix, m)| {
        upper
            .strip_suffix(suffix)
            .map(|n| (n.trim().to_string(), *m))
    })
    .unwrap_or((upper.clone(), 1));
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`bytes` must be a size such as `10MB` or `200KB`, found `{t}`"))
}

enum SplitBy {
    Bytes(u64),
    Rows(u64),
    Partitions(u64),
    Regex(regex::Regex),
}

/// Writes the pieces of a split; each new piece gets the next URI.
struct Pieces<'a> {
    ctx: &'a TaskContext,
    stem: String,
    ext: String,
    uris: Vec<String>,
    writers: Vec<(BufWriter<File>, u64)>,
}

impl Pieces<'_> {
    fn open(&mut self) -> Result<usize, TaskError> {
        let uri = self.ctx.storage.task_file_uri(
            &self.ctx.scope(),
            &format!("{}_{}{}", self.stem, self.uris.len(), self.ext),
        );
        let path = self.ctx.storage.create_path(&uri)?;
        let f = File::create(&path).map_err(io_err(&format!("creating `{uri}`")))?;
        self.uris.push(uri);
        self.writers.push((BufWriter::new(f), 0));
        Ok(self.writers.len() - 1)
    }

    fn write(&mut self, i: usize, line: &str, sep: &str) -> Result<(), TaskError> {
        let (w, n) = &mut self.writers[i];
        w.write_all(line.as_bytes())
            .and_then(|_| w.write_all(sep.as_bytes()))
            .map_err(io_err("writing a piece"))?;
        *n += (line.len() + sep.len()) as u64;
        Ok(())
    }

    fn finish(self) -> Result<Vec<String>, TaskError> {
        let mut uris = Vec::new();
        for ((mut w, n), uri) in self.writers.into_iter().zip(self.uris) {
            w.flush().map_err(io_err(&format!("writing `{uri}`")))?;
            if n > 0 {
                uris.push(uri);
            } else {
                drop(w);
                let _ = std::fs::remove_file(self.ctx.storage.path_of(&uri)?);
            }
        }
        Ok(uris)
    }
}

/// `storage.Split`: a file of internal storage cut into pieces at line ends, by `bytes`,
/// `rows`, `partitions` (lines dealt round-robin) or `regexPattern` (one piece per value of the
/// first group); outputs `uris`.
pub fn split(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: SplitProps = ctx.props()?;
    require_uri(&p.from, "from")?;
    let mut ways = Vec::new();
    if let Some(b) = &p.bytes {
        ways.push(SplitBy::Bytes(parse_bytes(b).map_err(TaskError::Props)?));
    }
    if let Some(r) = p.rows {
        ways.push(SplitBy::Rows(r.max(1)));
    }
    if let Some(n) = p.partitions {
        ways.push(SplitBy::Partitions(n.max(1)));
    }
    if let Some(re) = &p.regex_pattern {
        let re = regex::Regex::new(re)
            .map_err(|e| TaskError::Props(format!("`regexPattern` is not a valid regex: {e}")))?;
        ways.push(SplitBy::Regex(re));
    }
    if ways.len() != 1 {
        return Err(TaskError::Props(
            "set exactly one of `bytes`, `rows`, `partitions` or `regexPattern`".into(),
        ));
    }
    let by = ways.remove(0);
    let sep = p.separator.unwrap_or_else(|| "\n".into());
    let src = ctx.storage.existing(p.from.trim())?;
    let ext = extension_of(p.from.trim());
    let stem = src
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "split".into());
    let mut pieces = Pieces {
        ctx,
        stem,
        ext,
        uris: Vec::new(),
        writers: Vec::new(),
    };
    let reader =
        BufReader::new(File::open(&src).map_err(io_err(&format!("reading `{}`", p.from)))?);
    let mut current: Option<usize> = None;
    let mut rows_in_current = 0u64;
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut index = 0u64;
    for line in reader.lines() {
        let line = line.map_err(io_err(&format!("reading `{}`", p.from)))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        let target = match &by {
            SplitBy::Rows(n) => match current {
                Some(i) if rows_in_current < *n => i,
                _ => {
                    rows_in_current = 0;
                    pieces.open()?
                }
            },
            SplitBy::Bytes(max) => {
                let len = (line.len() + sep.len()) as u64;
                match current {
                    Some(i) if pieces.writers[i].1 + len <= *max || pieces.writers[i].1 == 0 => i,
                    _ => pieces.open()?,
                }
            }
            SplitBy::Partitions(n) => {
                while (pieces.writers.len() as u64) < *n {
                    pieces.open()?;
                }
                let i = (index % n) as usize;
                index += 1;
                i
            }
            SplitBy::Regex(re) => {
                let key = re
                    .captures(line)
                    .and_then(|c| c.get(1).or_else(|| c.get(0)))
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default();
                match by_key.get(&key) {
                    Some(i) => *i,
                    None => {
                        let i = pieces.open()?;
                        by_key.insert(key, i);
                        i
                    }
                }
            }
        };
        current = Some(target);
        rows_in_current += 1;
        pieces.write(target, line, &sep)?;
    }
    let uris = pieces.finish()?;
    ctx.log
        .info(&format!("split `{}` into {} file(s)", p.from, uris.len()));
    let mut out = Outputs::new();
    out.insert(
        "uris".into(),
        Value::Array(uris.into_iter().map(Value::String).collect()),
    );
    Ok(out)
}

#[derive(Deserialize)]
struct ConcatProps {
    files: Value,
    separator: Option<String>,
    extension: Option<String>,
}

/// The URIs of `files`: a list, a JSON list in a string, or (Kestra's other form) a JSON object
/// whose values are URIs.
fn file_list(v: Value) -> Result<Vec<String>, TaskError> {
    let v = match v {
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with('[') || t.starts_with('{') {
                serde_json::from_str(t).map_err(|e| {
                    TaskError::Props(format!("`files` is not a JSON list of URIs: {e}"))
                })?
            } else {
                Value::Array(vec![Value::String(s)])
            }
        }
        other => other,
    };
    let items: Vec<Value> = match v {
        Value::Array(items) => items,
        Value::Object(m) => m.into_iter().map(|(_, v)| v).collect(),
        other => {
            return Err(TaskError::Props(format!(
                "`files` must be a list of `kestra:///` URIs, found `{other}`"
            )));
        }
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::Array(inner) => out.extend(inner.into_iter().map(de::scalar_text)),
            other => out.push(de::scalar_text(other)),
        }
    }
    Ok(out)
}

/// `storage.Concat`: the `files` one after another (with `separator` between them) in one new
/// file; outputs `uri`.
pub fn concat(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: ConcatProps = ctx.props()?;
    let files = file_list(p.files)?;
    let ext = extension(p.extension.as_deref(), ".tmp");
    let uri = ctx
        .storage
        .task_file_uri(&ctx.scope(), &format!("concat{ext}"));
    let dest = ctx.storage.create_path(&uri)?;
    let mut w = BufWriter::new(File::create(&dest).map_err(io_err(&format!("creating `{uri}`")))?);
    for (i, f) in files.iter().enumerate() {
        require_uri(f, "files")?;
        if i > 0
            && let Some(sep) = &p.separator
        {
            w.write_all(sep.as_bytes())
                .map_err(io_err(&format!("writing `{uri}`")))?;
        }
        let src = ctx.storage.existing(f.trim())?;
        let mut r = File::open(&src).map_err(io_err(&format!("reading `{f}`")))?;
        std::io::copy(&mut r, &mut w).map_err(io_err(&format!("copying `{f}`")))?;
    }
    w.flush().map_err(io_err(&format!("writing `{uri}`")))?;
    let mut out = Outputs::new();
    out.insert("uri".into(), uri.into());
    Ok(out)
}

#[derive(Deserialize)]
struct UriProps {
    uri: String,
    #[serde(default, rename = "errorOnMissing", deserialize_with = "de::bool_opt")]
    error_on_missing: Option<bool>,
}

/// `storage.Size`: the size in bytes of a file of internal storage; outputs `size`.
pub fn size(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: UriProps = ctx.props()?;
    require_uri(&p.uri, "uri")?;
    let path = ctx.storage.existing(p.uri.trim())?;
    let len = std::fs::metadata(&path)
        .map_err(io_err(&format!("reading `{}`", p.uri)))?
        .len();
    let mut out = Outputs::new();
    out.insert("size".into(), len.into());
    Ok(out)
}

/// `storage.Delete`: removes a file of internal storage; outputs `uri` and `deleted`. A
/// missing file fails only with `errorOnMissing: true`.
pub fn delete(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: UriProps = ctx.props()?;
    require_uri(&p.uri, "uri")?;
    let path = ctx.storage.path_of(p.uri.trim())?;
    let deleted = remove_if_exists(&path).map_err(io_err(&format!("deleting `{}`", p.uri)))?;
    if !deleted && p.error_on_missing == Some(true) {
        return Err(TaskError::Failed(format!(
            "`{}` does not exist (`errorOnMissing: true`)",
            p.uri
        )));
    }
    let mut out = Outputs::new();
    out.insert("uri".into(), p.uri.into());
    out.insert("deleted".into(), deleted.into());
    Ok(out)
}

fn remove_if_exists(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_read_as_kestra_reads_them() {
        assert_eq!(parse_bytes(&json!("10MB")), Ok(10 << 20));
        assert_eq!(parse_bytes(&json!("200KB")), Ok(200 << 10));
        assert_eq!(parse_bytes(&json!(" 5 kb ")), Ok(5 << 10));
        assert_eq!(parse_bytes(&json!(1234)), Ok(1234));
        assert!(parse_bytes(&json!("ten")).is_err());
        assert!(parse_bytes(&json!("0")).is_err());
    }

    #[test]
    fn extensions_get_their_dot() {
        assert_eq!(extension(Some("txt"), ".ion"), ".txt");
        assert_eq!(extension(Some(".csv"), ".ion"), ".csv");
        assert_eq!(extension(None, ".ion"), ".ion");
        assert_eq!(extension_of("kestra:///a/b/file.csv"), ".csv");
        assert_eq!(extension_of("kestra:///a/b/file"), "");
    }

    #[test]
    fn files_come_as_lists_json_or_maps() {
        assert_eq!(
            file_list(json!(["kestra:///a", "kestra:///b"])).unwrap(),
            ["kestra:///a", "kestra:///b"]
        );
        assert_eq!(
            file_list(json!("[\"kestra:///a\",\"kestra:///b\"]")).unwrap(),
            ["kestra:///a", "kestra:///b"]
        );
        assert_eq!(
            file_list(json!({"x": "kestra:///a"})).unwrap(),
            ["kestra:///a"]
        );
        assert!(file_list(json!("[oops")).is_err());
    }
}
