//! `weir demo`: the first article's pipeline on embedded defaults, in one command.
//!
//! Generates Jan–Jun 2021 of green and yellow taxi trips, serves them from a local HTTP mirror at
//! the public release paths, sets the KV entries the flows read, and runs one execution per taxi
//! and month — download, bucket, idempotent load into DuckDB — printing what each loaded. Then
//! the second flow: the example dbt project, put into the namespace's files, built by DbtCLI
//! on that warehouse, and the monthly revenue mart's top rows.

#![expect(
    clippy::print_stderr,
    reason = "the demo talks to the person running it"
)]

use crate::args::DemoArgs;
use crate::commands::{catalog, emit, log_stop_signal, open_home, watch_signals};
use crate::output::{paint, state_color, table, user_error, user_error_hint};
use anyhow::{Context, Result};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_engine::{Engine, EngineConfig, RunRequest};
use weir_store::KvEntry;
use weir_taxi::{MonthSpec, Taxi};

mod transform;

/// The flows ship inside the binary, so `weir demo` works from any folder.
pub const LOAD_FLOW: &str = include_str!("../../../examples/nyc-taxi/flows/taxi_load.yaml");
pub const ARTICLE_FLOW: &str = include_str!("../../../examples/nyc-taxi/flows/taxi_article.yaml");
/// The demo's own namespace: its KV entries (mirror address, warehouse URL) must never
/// overwrite those of a user who runs the articles' flows in their namespace, `zoomcamp`.
const NAMESPACE: &str = "weir.demo";
/// The namespace the shipped flows are written in, as in the articles.
const FLOWS_NAMESPACE: &str = "namespace: zoomcamp\n";

fn parse_month(s: &str) -> Result<(i32, u32)> {
    let bad = || user_error_hint(format!("`{s}` is not a month"), "write months as `2021-01`");
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    let (y, m) = (
        y.parse::<i32>().map_err(|_| bad())?,
        m.parse::<u32>().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) {
        return Err(bad());
    }
    Ok((y, m))
}

fn months(from: &str, to: &str) -> Result<Vec<(i32, u32)>> {
    let (mut y, mut m) = parse_month(from)?;
    let end = parse_month(to)?;
    let mut out = Vec::new();
    while (y, m) <= end {
        out.push((y, m));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        if out.len() > 120 {
            return Err(user_error("the demo loads at most 120 months"));
        }
    }
    if out.is_empty() {
        return Err(user_error(format!("`{from}` comes after `{to}`")));
    }
    Ok(out)
}

fn set_kv(store: &dyn weir_store::Store, key: &str, value: &str) -> Result<()> {
    store.kv_set(&KvEntry {
        namespace: NAMESPACE.into(),
        key: key.into(),
        value: value.into(),
        kind: "STRING".into(),
        expires: None,
        updated: Utc::now(),
    })?;
    Ok(())
}

fn out_u64(outputs: &serde_json::Value, key: &str) -> Option<u64> {
    outputs.get(key).and_then(serde_json::Value::as_u64)
}

pub fn demo(home: &Path, args: DemoArgs) -> Result<u8> {
    let months = months(&args.from, &args.to)?;
    let taxis: Vec<Taxi> = args
        .taxi
        .iter()
        .map(|t| {
            t.parse::<Taxi>()
                .map_err(|_| user_error(format!("`{t}` is not a taxi (yellow or green)")))
        })
        .collect::<Result<_>>()?;
    if !(args.scale > 0.0 && args.scale <= 10.0) {
        return Err(user_error(format!(
            "`--scale {}` must be above 0 and at most 10",
            args.scale
        )));
    }
    let h = open_home(home)?;
    let home_abs = std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf());
    let data = home_abs
        .join("demo")
        .join("tlc")
        .join(format!("scale-{}", args.scale));
    std::fs::create_dir_all(&data)
        .with_context(|| format!("could not create `{}`", data.display()))?;
    let warehouse = home_abs.join("demo").join("warehouse.duckdb");
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("jdbc:duckdb:{}", warehouse.display()));

    // 1. The month files, generated once per scale and kept.
    let specs: Vec<MonthSpec> = months
        .iter()
        .flat_map(|&(y, m)| {
            taxis.iter().map(move |&t| MonthSpec {
                scale: args.scale,
                ..MonthSpec::new(t, y, m)
            })
        })
        .collect();
    let todo: Vec<&MonthSpec> = specs
        .iter()
        .filter(|s| {
            !data
                .join(weir_taxi::file_name(s.taxi, s.year, s.month))
                .is_file()
        })
        .collect();
    if !todo.is_empty() {
        let total: u64 = todo.iter().map(|s| s.rows()).sum();
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template(
                "{msg:28} [{bar:30}] {human_pos}/{human_len} rows {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        for s in &todo {
            let name = weir_taxi::file_name(s.taxi, s.year, s.month);
            pb.set_message(format!("generating {name}"));
            // Write under a temporary name so an interrupted run never leaves a half file.
            let tmp = data.join(".partial");
            // A run killed while generating left its half file here; start clean.
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp)?;
            let stats = weir_taxi::generate(s, &tmp)
                .with_context(|| format!("could not generate `{name}`"))?;
            std::fs::rename(&stats.path, data.join(&name))?;
            pb.inc(s.rows());
        }
        pb.finish_and_clear();
        let _ = std::fs::remove_dir_all(data.join(".partial"));
        eprintln!(
            "generated {} month files ({total} rows) in {}",
            todo.len(),
            data.display()
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let catalog = catalog();
    let flow_source = if args.article {
        ARTICLE_FLOW
    } else {
        LOAD_FLOW
    };
    let flow_source =
        flow_source.replacen(FLOWS_NAMESPACE, &format!("namespace: {NAMESPACE}\n"), 1);
    let flow = weir_flow::parse_flow("taxi flow", &flow_source, &catalog).map_err(|d| {
        anyhow::anyhow!(
            "the demo flow is invalid: {}; this is a bug in weir, please report it",
            d[0]
        )
    })?;
    let record = h
        .store
        .save_flow(&flow.namespace, &flow.id, &flow.source, true)?;
    let flow = Arc::new(flow);

    // The transform: why it is skipped, or its flow (deployed) and the KV entries it reads.
    let transform = if args.no_transform {
        Err(None)
    } else if args.article {
        Err(Some(
            "the dbt project reads the tables `weir.warehouse.Load` writes; run without `--article`"
                .to_string(),
        ))
    } else if !(taxis.contains(&Taxi::Green) && taxis.contains(&Taxi::Yellow)) {
        Err(Some(
            "the dbt project reads both green and yellow trips; load both (the default `--taxi`)"
                .to_string(),
        ))
    } else {
        match transform::profile_kv(&url)? {
            Err(why) => Err(Some(why)),
            Ok(kv) => {
                let source = transform::TRANSFORM_FLOW.replacen(
                    FLOWS_NAMESPACE,
                    &format!("namespace: {NAMESPACE}\n"),
                    1,
                );
                let t = weir_flow::parse_flow("transform flow", &source, &catalog).map_err(|d| {
                    anyhow::anyhow!(
                        "the demo's transform flow is invalid: {}; this is a bug in weir, please report it",
                        d[0]
                    )
                })?;
                let rec = h.store.save_flow(&t.namespace, &t.id, &t.source, true)?;
                transform::put_project(&h.storage, NAMESPACE)?;
                Ok((Arc::new(t), rec.revision, kv))
            }
        }
    };
    if let Err(Some(why)) = &transform {
        eprintln!("{} no dbt transform: {why}", paint("33", "note:"));
    }

    let engine = Engine::new(EngineConfig {
        store: h.store.clone(),
        storage: h.storage.clone(),
        catalog: catalog.clone(),
        work_root: h.work.clone(),
        home: home_abs.clone(),
        events: None,
        cancel: cancel_rx,
    });

    let (rows, built) = runtime.block_on(async {
        // The demo's server stops on its own signals, gracefully.
        let mut cancel_tx = Some(cancel_tx);
        if !args.server
            && let Some(tx) = cancel_tx.take()
        {
            tokio::spawn(watch_signals(tx));
        }
        // 2. The mirror, at the public release paths.
        let mirror = weir_taxi::Mirror::start(data.clone(), 0)
            .await
            .context("could not start the local download mirror")?;
        // 3. The KV entries the flows read.
        let store = &*h.store;
        set_kv(store, "TLC_BASE_URL", &mirror.base_url())?;
        set_kv(store, "S3_BUCKET_NAME", "weir-demo")?;
        set_kv(store, "JDBC_URL", &url)?;
        for (k, v) in [
            ("DB_USER", ""),
            ("DB_PASS", ""),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_REGION", "us-east-1"),
            ("KESTRA_ROLE", "arn:aws:iam::000000000000:role/local"),
        ] {
            if store.kv_get(NAMESPACE, k)?.is_none() || args.url.is_some() && k.starts_with("DB_") {
                set_kv(store, k, v)?;
            }
        }
        eprintln!(
            "mirror at {}, bucket `weir-demo` in {}, warehouse {}",
            mirror.base_url(),
            home_abs.join("buckets").display(),
            weir_warehouse::url::mask_url(&url)
        );
        if let Ok((_, _, kv)) = &transform {
            for (k, v) in kv {
                set_kv(store, k, v)?;
            }
        }
        if args.server {
            if let Ok((t, _, _)) = &transform {
                eprintln!(
                    "{} the transform flow `{}.{}` is deployed, its dbt project in the namespace's files: run it once the months are loaded",
                    paint("33", "note:"),
                    t.namespace,
                    t.id
                );
            }
            let done = crate::server::demo_server(
                &h,
                engine.clone(),
                catalog.clone(),
                &flow,
                &specs,
                cancel_tx.take(),
                args.bind,
                &url,
                &taxis,
            )
            .await;
            mirror.stop().await;
            return done.map(|()| (Vec::new(), false));
        }
        // 4. One execution per taxi and month.
        let mut rows = Vec::new();
        for s in &specs {
            let label = format!("{} {}-{:02}", s.taxi.as_str(), s.year, s.month);
            let spin = ProgressBar::new_spinner();
            spin.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spin.set_message(format!("{label}: download, bucket, load"));
            spin.enable_steady_tick(Duration::from_millis(100));
            let started = Instant::now();
            let mut inputs = serde_json::Map::new();
            inputs.insert("taxi".into(), s.taxi.as_str().into());
            let date = format!("{}-{:02}-01T00:00:00Z", s.year, s.month);
            let outcome = engine
                .execute(RunRequest {
                    flow: flow.clone(),
                    revision: record.revision,
                    inputs,
                    labels: vec![("demo".into(), "true".into())],
                    trigger: serde_json::json!({ "date": date }),
                    parent_id: None,
                })
                .await?;
            spin.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            let ex = &outcome.execution;
            log_stop_signal(store, ex);
            let runs = store.task_runs(&ex.id)?;
            let load = runs
                .iter()
                .find(|r| r.task_id == "load")
                .map(|r| r.outputs.clone())
                .unwrap_or_default();
            eprintln!("  {:<9} {label}  {secs:.1}s", state_color(ex.state));
            let mut row = vec![label, state_color(ex.state)];
            row.extend(load_cells(&load));
            row.extend([format!("{secs:.1}"), ex.id.clone()]);
            rows.push(row);
            if ex.state.is_failure() {
                let why = outcome.failure.clone().unwrap_or_default();
                mirror.stop().await;
                return Err(anyhow::Error::new(crate::output::UserError {
                    message: format!(
                        "the {} execution {} ended {}: {why}",
                        rows.last().map_or("", |r| r[0].as_str()),
                        ex.id,
                        ex.state
                    ),
                    hint: Some(format!(
                        "see its logs with `weir executions logs {}`",
                        ex.id
                    )),
                    code: 1,
                }));
            }
        }
        mirror.stop().await;
        // 5. The dbt project over what the months loaded.
        let built = match &transform {
            Ok((t, revision, _)) => {
                // dbt runs in a process of its own: this one must let go of the DuckDB file.
                weir_warehouse::close_all();
                run_transform(&engine, store, t.clone(), *revision).await?;
                true
            }
            Err(_) => false,
        };
        anyhow::Ok((rows, built))
    })?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    if args.server {
        return Ok(0);
    }

    emit(&format!("\n{}", month_table(&rows)));
    print_table_totals(&url, &taxis)?;
    if built {
        emit(&format!("\n{}", transform::mart_table(&url)?));
    }
    print_next(&url);
    Ok(0)
}

/// Runs the transform flow once, with a spinner and a result line like the months'; a failed
/// build is the demo's failure.
async fn run_transform(
    engine: &Engine,
    store: &dyn weir_store::Store,
    flow: Arc<weir_flow::Flow>,
    revision: i64,
) -> Result<()> {
    let label = "transform: dbt build";
    let spin = ProgressBar::new_spinner();
    spin.set_style(
        ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spin.set_message(label);
    spin.enable_steady_tick(Duration::from_millis(100));
    let started = Instant::now();
    let outcome = engine
        .execute(RunRequest {
            flow,
            revision,
            inputs: serde_json::Map::new(),
            labels: vec![("demo".into(), "true".into())],
            trigger: serde_json::Value::Null,
            parent_id: None,
        })
        .await?;
    spin.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let ex = &outcome.execution;
    log_stop_signal(store, ex);
    let outputs = store
        .task_runs(&ex.id)?
        .into_iter()
        .find(|r| r.task_id == "dbt_build")
        .map(|r| r.outputs)
        .unwrap_or_default();
    let counts = transform::counts(&outputs).map_or(String::new(), |c| format!("{c}  "));
    eprintln!("  {:<9} {label}  {counts}{secs:.1}s", state_color(ex.state));
    if ex.state.is_failure() {
        let why = outcome.failure.clone().unwrap_or_default();
        return Err(anyhow::Error::new(crate::output::UserError {
            message: format!(
                "the transform execution {} ended {}: {why}",
                ex.id, ex.state
            ),
            hint: Some(format!(
                "see its logs with `weir executions logs {}`",
                ex.id
            )),
            code: 1,
        }));
    }
    Ok(())
}

/// The demo's table of months: what each execution loaded.
pub(crate) fn month_table(rows: &[Vec<String>]) -> String {
    table(
        &[
            "MONTH",
            "STATE",
            "ROWS READ",
            "INSERTED",
            "DUPLICATES SKIPPED",
            "REJECTED",
            "SECONDS",
            "EXECUTION",
        ],
        rows,
    )
}

/// What the warehouse holds now, and how to query it.
pub(crate) fn print_totals(url: &str, taxis: &[Taxi]) -> Result<()> {
    print_table_totals(url, taxis)?;
    print_next(url);
    Ok(())
}

/// The loaded tables' row counts.
fn print_table_totals(url: &str, taxis: &[Taxi]) -> Result<()> {
    let target = weir_warehouse::url::parse(url, None, None)?;
    let mut w = weir_warehouse::connect(&target)?;
    if w.engine() == weir_warehouse::Engine::DuckDb {
        // Counting 12 M distinct keys needs a large hash table; under a cap DuckDB spills it
        // to disk instead of holding it all in memory.
        w.execute("SET memory_limit = '256MB'")?;
    }
    let mut totals = Vec::new();
    for t in taxis {
        let table_name = format!("public.{}_tripdata", t.as_str());
        let first = |w: &mut dyn weir_warehouse::Warehouse, sql: &str| -> Result<String> {
            let r = w.query(sql)?;
            Ok(r.rows
                .first()
                .and_then(|row| row.first())
                .map(|x| x.to_string().trim_matches('"').to_string())
                .unwrap_or_default())
        };
        let rows = first(w.as_mut(), &format!("SELECT count(*) FROM {table_name}"))?;
        // DuckDB's hash of distinct keys does not fit 256 MB from about 30 M keys (nor 1 GB
        // at 100 M); counting the changes between neighbours in key order sorts on disk
        // instead (30 M keys: 15 s, 374 MB, measured).
        let keys = first(
            w.as_mut(),
            &format!("SELECT count(DISTINCT unique_row_id) FROM {table_name}"),
        )
        .or_else(|_| {
            first(
                w.as_mut(),
                &format!(
                    "SELECT count(*) FROM (SELECT unique_row_id, lag(unique_row_id) OVER \
                     (ORDER BY unique_row_id) AS prev FROM {table_name} \
                     WHERE unique_row_id IS NOT NULL) AS s \
                     WHERE prev IS DISTINCT FROM unique_row_id"
                ),
            )
        })
        .unwrap_or_else(|e| {
            eprintln!(
                "{} could not count the distinct row keys of {table_name}: {e}",
                paint("33", "warning:")
            );
            "?".into()
        });
        totals.push(vec![table_name, rows, keys]);
    }
    drop(w);
    let mut text = String::from("\n");
    text.push_str(&table(&["TABLE", "ROWS", "DISTINCT ROW KEYS"], &totals));
    emit(&text);
    Ok(())
}

/// How to query the warehouse next.
fn print_next(url: &str) {
    if let Ok(weir_warehouse::Target::DuckDb { path: Some(p) }) =
        weir_warehouse::url::parse(url, None, None)
    {
        eprintln!(
            "\n{} query the warehouse with `weir query {url} \"SELECT count(*) FROM public.yellow_tripdata\"`\n  (or any DuckDB client: the file is {})",
            paint("1;36", "next:"),
            p.display()
        );
    }
}

/// The load task's figures of an execution, as the demo's table shows them.
pub(crate) fn load_cells(outputs: &serde_json::Value) -> [String; 4] {
    let cell = |k: &str| out_u64(outputs, k).map_or("-".to_string(), |v| v.to_string());
    [
        cell("rowsRead"),
        cell("rowsInserted"),
        cell("duplicatesSkipped"),
        cell("rowsRejected"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo moves the shipped flows to its own namespace by rewriting this one line; a
    /// flow that no longer has it would silently run in `zoomcamp` again.
    #[test]
    fn shipped_flows_name_the_namespace_the_demo_rewrites() {
        for flow in [LOAD_FLOW, ARTICLE_FLOW, transform::TRANSFORM_FLOW] {
            assert_eq!(flow.matches(FLOWS_NAMESPACE).count(), 1);
        }
    }
}
