//! [`Mirror`]: a local HTTP server for generated trip files, at the paths of the public
//! release URLs (`/DataTalksClub/nyc-tlc-data/releases/download/{taxi}/{file}`), so a flow
//! written against the real URLs runs offline by changing only the base URL.

use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::io::ReaderStream;

use crate::{Taxi, TaxiError};

/// The path every mirrored URL starts with.
pub const MIRROR_PREFIX: &str = "/DataTalksClub/nyc-tlc-data/releases/download";

type Body = BoxBody<Bytes, io::Error>;

/// A running mirror. Dropping it (or [`Mirror::stop`]) closes the listener and every open
/// connection.
#[derive(Debug)]
pub struct Mirror {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Mirror {
    /// Serves the files of `dir` (`dir/{file}`, or `dir/{taxi}/{file}`) on `127.0.0.1:port`;
    /// port 0 picks a free one (read it from [`Mirror::addr`]). Must be called inside a Tokio
    /// runtime.
    pub async fn start(dir: PathBuf, port: u16) -> Result<Mirror, TaxiError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|source| TaxiError::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| TaxiError::Bind { port, source })?;
        let (tx, mut rx) = oneshot::channel::<()>();
        let dir = Arc::new(dir);
        let task = tokio::spawn(async move {
            // Connections live in this set: when the accept loop ends, dropping the set aborts
            // them all.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else {
                            // E.g. EMFILE: back off briefly instead of spinning.
                            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                            continue;
                        };
                        let dir = Arc::clone(&dir);
                        conns.spawn(async move {
                            let service = service_fn(move |req| {
                                let dir = Arc::clone(&dir);
                                async move { Ok::<_, Infallible>(handle(&dir, req).await) }
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Mirror {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT/DataTalksClub/nyc-tlc-data/releases/download`; append
    /// `/{taxi}/{file}`.
    pub fn base_url(&self) -> String {
        format!("http://{}{MIRROR_PREFIX}", self.addr)
    }

    /// The URL of one month's file.
    pub fn url(&self, taxi: Taxi, year: i32, month: u32) -> String {
        format!(
            "{}/{}/{}",
            self.base_url(),
            taxi.as_str(),
            crate::file_name(taxi, year, month)
        )
    }

    /// Stops listening, closes open connections and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A safe single path segment: ASCII letters, digits, `.`, `_`, `-`, not starting with `.`.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `{taxi}/{file}` of a mirrored path, if it is one.
fn parse_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(MIRROR_PREFIX)?.strip_prefix('/')?;
    let (taxi, file) = rest.split_once('/')?;
    (safe_segment(taxi) && safe_segment(file) && file.starts_with(&format!("{taxi}_")))
        .then_some((taxi, file))
}

fn status(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

async fn open(dir: &Path, taxi: &str, file: &str) -> Option<(tokio::fs::File, u64)> {
    for candidate in [dir.join(file), dir.join(taxi).join(file)] {
        if let Ok(f) = tokio::fs::File::open(&candidate).await
            && let Ok(meta) = f.metadata().await
            && meta.is_file()
        {
            return Some((f, meta.len()));
        }
    }
    None
}

async fn handle(dir: &Path, req: Request<Incoming>) -> Response<Body> {
    let Some((taxi, file)) = parse_path(req.uri().path()) else {
        return status(StatusCode::NOT_FOUND, "not found\n");
    };
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut resp = status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            resp.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return resp;
        }
    };
    let Some((f, len)) = open(dir, taxi, file).await else {
        return status(StatusCode::NOT_FOUND, "not found\n");
    };
    let body: Body = if head {
        Empty::new().map_err(|e| match e {}).boxed()
    } else {
        let stream = ReaderStream::with_capacity(f, 256 * 1024).map_ok(Frame::data);
        BodyExt::boxed(StreamBody::new(stream))
    };
    let mut resp = Response::new(body);
    let content_type = if file.ends_with(".gz") {
        "application/gzip"
    } else if file.ends_with(".csv") {
        "text/csv"
    } else {
        "application/octet-stream"
    };
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_release_paths_map_to_files() {
        let p = parse_path;
        assert_eq!(
            p(
                "/DataTalksClub/nyc-tlc-data/releases/download/yellow/yellow_tripdata_2021-01.csv.gz"
            ),
            Some(("yellow", "yellow_tripdata_2021-01.csv.gz"))
        );
        assert_eq!(
            p("/DataTalksClub/nyc-tlc-data/releases/download/green/green_tripdata_2021-07.csv.gz"),
            Some(("green", "green_tripdata_2021-07.csv.gz"))
        );
        assert_eq!(
            p("/DataTalksClub/nyc-tlc-data/releases/download/yellow/green_tripdata_2021-01.csv.gz"),
            None
        );
        assert_eq!(
            p("/DataTalksClub/nyc-tlc-data/releases/download/yellow/../x"),
            None
        );
        assert_eq!(
            p("/DataTalksClub/nyc-tlc-data/releases/download/yellow/yellow_a/b"),
            None
        );
        assert_eq!(
            p("/DataTalksClub/nyc-tlc-data/releases/download/yellow/"),
            None
        );
        assert_eq!(
            p("/DataTalksClub/nyc-tlc-data/releases/download/yellow"),
            None
        );
        assert_eq!(p("/other/yellow/yellow_tripdata_2021-01.csv.gz"), None);
        assert_eq!(
            p("/DataTalksClub/nyc-tlc-data/releases/download/yellow/yellow_%2e%2e"),
            None
        );
    }
}
