//! HTTP tasks: Download streams a body into internal storage; Request returns it as output.

use crate::{Outputs, TaskContext, TaskError, de};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::io::AsyncWriteExt;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpProps {
    uri: String,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    body: Option<String>,
    content_type: Option<String>,
    form_data: Option<serde_json::Map<String, Value>>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    fail_on_empty_response: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    allow_failed: Option<bool>,
    #[serde(default)]
    options: serde_json::Map<String, Value>,
}

fn duration_opt(
    options: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<std::time::Duration>, TaskError> {
    match options.get(key).and_then(Value::as_str) {
        Some(t) => weir_core::parse_duration(t)
            .map(Some)
            .map_err(|e| TaskError::Props(format!("`options.{key}`: {e}"))),
        None => Ok(None),
    }
}

async fn send(ctx: &TaskContext, p: &HttpProps) -> Result<reqwest::Response, TaskError> {
    let method = p.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| TaskError::Props(format!("`method`: `{method}` is not an HTTP method")))?;
    let url = reqwest::Url::parse(&p.uri)
        .map_err(|e| TaskError::Props(format!("`uri`: `{}` is not a valid URL ({e})", p.uri)))?;
    let mut req = ctx.http.get()?.request(method.clone(), url);
    for (k, v) in &p.headers {
        req = req.header(k, de::scalar_text(v.clone()));
    }
    if let Some(ct) = &p.content_type {
        req = req.header(reqwest::header::CONTENT_TYPE, ct);
    }
    if let Some(form) = &p.form_data {
        let body: String = form
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    urlencode(k),
                    urlencode(&de::scalar_text(v.clone()))
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        req = req
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
    } else if let Some(b) = &p.body {
        req = req.body(b.clone());
    }
    if let Some(t) = duration_opt(&p.options, "readTimeout")? {
        req = req.timeout(t);
    }
    ctx.log.info(&format!("{method} {}", p.uri));
    let resp = req.send().await.map_err(|e| {
        TaskError::Failed(format!(
            "{method} {} failed: {}",
            p.uri,
            crate::error_chain(&e)
        ))
    })?;
    let status = resp.status();
    if !status.is_success()
        && p.allow_failed != Some(true)
        && p.options.get("allowFailed").and_then(Value::as_bool) != Some(true)
    {
        return Err(TaskError::Failed(format!(
            "{method} {} returned HTTP {status}",
            p.uri
        )));
    }
    Ok(resp)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn headers_json(resp: &reqwest::Response) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in resp.headers() {
        let entry = map
            .entry(k.as_str().to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = entry {
            a.push(Value::String(v.to_str().unwrap_or_default().to_string()));
        }
    }
    Value::Object(map)
}

/// The file name a download is stored under: the last path segment of the URL.
fn file_name(uri: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let name = path.rsplit('/').next().unwrap_or("").trim();
    if name.is_empty() || name.contains("..") {
        "download".into()
    } else {
        name.to_string()
    }
}

pub async fn download(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: HttpProps = ctx.props()?;
    let resp = send(ctx, &p).await?;
    let code = resp.status().as_u16();
    let headers = headers_json(&resp);
    let uri = ctx.storage.task_file_uri(&ctx.scope(), &file_name(&p.uri));
    let path = ctx.storage.create_path(&uri)?;
    let io_err = |e: std::io::Error| {
        TaskError::Failed(format!(
            "writing the download to `{}` failed: {e}",
            path.display()
        ))
    };
    let mut file = tokio::fs::File::create(&path).await.map_err(io_err)?;
    let mut length: u64 = 0;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            TaskError::Failed(format!(
                "reading the body of {} failed: {}",
                p.uri,
                crate::error_chain(&e)
            ))
        })?;
        length += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(io_err)?;
    }
    file.flush().await.map_err(io_err)?;
    if length == 0 && p.fail_on_empty_response != Some(false) {
        return Err(TaskError::Failed(format!(
            "{} returned an empty body (set `failOnEmptyResponse: false` to allow it)",
            p.uri
        )));
    }
    ctx.log.info(&format!(
        "downloaded {length} bytes from {} to {uri}",
        p.uri
    ));
    let mut out = Outputs::new();
    out.insert("uri".into(), uri.into());
    out.insert("code".into(), code.into());
    out.insert("length".into(), length.into());
    out.insert("headers".into(), headers);
    Ok(out)
}

pub async fn request(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: HttpProps = ctx.props()?;
    let resp = send(ctx, &p).await?;
    let code = resp.status().as_u16();
    let headers = headers_json(&resp);
    let body = resp.text().await.map_err(|e| {
        TaskError::Failed(format!(
            "reading the body of {} failed: {}",
            p.uri,
            crate::error_chain(&e)
        ))
    })?;
    let mut out = Outputs::new();
    out.insert("uri".into(), p.uri.clone().into());
    out.insert("code".into(), code.into());
    out.insert("headers".into(), headers);
    out.insert("body".into(), body.into());
    Ok(out)
}
