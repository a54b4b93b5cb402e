//! Namespace files end to end: `weir namespace files upload|list|get|delete`, script tasks'
//! `namespaceFiles`, and the git tasks (`SyncNamespaceFiles`, `Clone`) on `file://`
//! repositories the tests create.

use crate::common::{Env, run_of};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn ok(out: &crate::common::Out) {
    assert_eq!(out.code, 0, "{out:#?}");
}

/// `git ARGS…` in `dir`, with a throwaway identity and no user configuration.
fn git(env: &Env, dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args([
            "-c",
            "user.name=weir",
            "-c",
            "user.email=weir@example.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("HOME", env.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(o.status.success(), "git {args:?}: {o:?}");
}

fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// A repository at `<test>/repo` on branch `main` with one commit of `files`; its `file://` URL.
fn repo_with(env: &Env, files: &[(&str, &str)]) -> String {
    let repo = env.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(env, &repo, &["init", "-q"]);
    write_tree(&repo, files);
    git(env, &repo, &["add", "-A"]);
    git(env, &repo, &["commit", "-q", "-m", "first"]);
    format!("file://{}", repo.display())
}

fn list(env: &Env, ns: &str) -> Vec<String> {
    let o = env.weir(&["namespace", "files", "list", ns]);
    ok(&o);
    o.stdout.lines().map(str::to_string).collect()
}

#[test]
fn upload_list_get_delete_through_the_binary() {
    let env = Env::new();
    let project = env.path().join("project");
    write_tree(
        &project,
        &[
            ("dbt_project.yml", "name: demo\n"),
            ("models/a.sql", "select 1 as a\n"),
            ("models/staging/b.sql", "select 2 as b\n"),
            (".git/HEAD", "ref: refs/heads/main\n"),
        ],
    );
    ok(&env.weir(&[
        "namespace",
        "files",
        "upload",
        "company.team",
        project.to_str().unwrap(),
    ]));
    // A single file, into a folder.
    let single = env.write("notes.txt", "hello\n");
    ok(&env.weir(&[
        "namespace",
        "files",
        "upload",
        "company.team",
        single.to_str().unwrap(),
        "/docs/",
    ]));
    assert_eq!(
        list(&env, "company.team"),
        [
            "/dbt_project.yml",
            "/docs/notes.txt",
            "/models/a.sql",
            "/models/staging/b.sql"
        ]
    );
    let o = env.weir(&["namespace", "files", "list", "company.team", "models"]);
    ok(&o);
    assert_eq!(o.stdout, "/models/a.sql\n/models/staging/b.sql\n");
    let o = env.json(&["namespace", "files", "list", "company.team", "--json"]);
    assert_eq!(o.as_array().map(Vec::len), Some(4), "{o}");

    let o = env.weir(&["namespace", "files", "get", "company.team", "/models/a.sql"]);
    ok(&o);
    assert_eq!(o.stdout, "select 1 as a\n");
    let dest = env.path().join("b.sql");
    ok(&env.weir(&[
        "namespace",
        "files",
        "get",
        "company.team",
        "models/staging/b.sql",
        "-o",
        dest.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "select 2 as b\n");

    // A user error, exit code 2 as `weir kv get` of a missing key.
    let o = env.weir(&["namespace", "files", "get", "company.team", "nope.sql"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(
        o.stderr.contains("error:") && o.stderr.contains("nope.sql"),
        "{}",
        o.stderr
    );
    let o = env.weir(&["namespace", "files", "get", "company.team", "../etc/passwd"]);
    assert_eq!(o.code, 2, "{o:#?}");
    let o = env.weir(&["namespace", "files", "list", "bad..ns"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(o.stderr.contains("invalid namespace"), "{}", o.stderr);

    ok(&env.weir(&["namespace", "files", "delete", "company.team", "models"]));
    assert_eq!(
        list(&env, "company.team"),
        ["/dbt_project.yml", "/docs/notes.txt"]
    );
    let o = env.weir(&["namespace", "files", "delete", "company.team", "models"]);
    assert_eq!(o.code, 2, "{o:#?}");
}

#[test]
fn script_tasks_copy_the_selected_namespace_files() {
    let env = Env::new();
    let files = env.path().join("files");
    write_tree(
        &files,
        &[
            ("scripts/hello.sh", "echo from-namespace-file\n"),
            ("scripts/skip.txt", "no\n"),
            ("data/big.csv", "a\n"),
        ],
    );
    ok(&env.weir(&[
        "namespace",
        "files",
        "upload",
        "company.team",
        files.to_str().unwrap(),
    ]));
    let shared = env.write("shared.txt", "from-shared\n");
    ok(&env.weir(&[
        "namespace",
        "files",
        "upload",
        "company",
        shared.to_str().unwrap(),
    ]));
    // Kestra's docs example: `namespaceFiles: {enabled: true, include: [scripts/**]}`.
    let o = env.run_flow(
        "flow.yaml",
        r#"
id: nsfiles
namespace: company.team
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enabled: true
      include:
        - scripts/**
      exclude:
        - "**/*.txt"
    commands:
      - sh scripts/hello.sh
      - test ! -e scripts/skip.txt
      - test ! -e data/big.csv
  - id: both
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      namespaces: [company, company.team]
      folderPerNamespace: true
      include: [shared.txt, hello.sh]
    commands:
      - cat company/shared.txt
      - test -f company.team/scripts/hello.sh
"#,
        &[],
    );
    ok(&o);
    let id = o.id();
    let sh = env.log_messages(&id, Some("sh"));
    assert!(sh.iter().any(|l| l == "from-namespace-file"), "{sh:?}");
    let both = env.log_messages(&id, Some("both"));
    assert!(both.iter().any(|l| l == "from-shared"), "{both:?}");

    // `ifExists: FAIL` with a file written by `inputFiles` first.
    let o = env.run_flow(
        "fail.yaml",
        r#"
id: nsfail
namespace: company.team
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      scripts/hello.sh: "echo mine"
    namespaceFiles:
      enabled: true
      ifExists: FAIL
    commands:
      - sh scripts/hello.sh
"#,
        &[],
    );
    assert_ne!(o.code, 0, "{o:#?}");
    let ex = env.show(o.stdout.trim());
    assert_eq!(ex["state"], "FAILED");
}

const SYNC: &str = r#"
id: sync
namespace: company.team
tasks:
  - id: git
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: "{{ inputs.url }}"
    branch: main
    gitDirectory: dbt
    delete: "{{ inputs.delete }}"
    dryRun: "{{ inputs.dry }}"
inputs:
  - id: url
    type: STRING
  - id: delete
    type: BOOLEAN
    defaults: false
  - id: dry
    type: BOOLEAN
    defaults: false
"#;

#[test]
fn sync_namespace_files_from_a_file_git_repository() {
    let env = Env::new();
    let url = repo_with(
        &env,
        &[
            ("dbt/dbt_project.yml", "name: demo\n"),
            ("dbt/models/a.sql", "select 1\n"),
            ("dbt/models/b.sql", "select 2\n"),
            ("README.md", "not synced\n"),
        ],
    );
    let input = format!("url={url}");
    let o = env.run_flow("sync.yaml", SYNC, &["-i", &input]);
    ok(&o);
    let ex = env.show(&o.id());
    let out = &run_of(&ex, "git")["outputs"];
    assert_eq!(
        out["added"],
        json!(["dbt_project.yml", "models/a.sql", "models/b.sql"])
    );
    assert!(
        out["diff"].as_str().unwrap().starts_with("kestra:///"),
        "{out}"
    );
    assert_eq!(
        list(&env, "company.team"),
        ["/dbt_project.yml", "/models/a.sql", "/models/b.sql"]
    );

    // A second commit: b.sql deleted, a.sql changed.
    let repo = env.path().join("repo");
    std::fs::remove_file(repo.join("dbt/models/b.sql")).unwrap();
    std::fs::write(repo.join("dbt/models/a.sql"), "select 10\n").unwrap();
    git(&env, &repo, &["commit", "-q", "-am", "second"]);

    // dryRun changes nothing but reports what it would do.
    let o = env.run_flow(
        "sync.yaml",
        SYNC,
        &["-i", &input, "-i", "delete=true", "-i", "dry=true"],
    );
    ok(&o);
    let ex = env.show(&o.id());
    let out = &run_of(&ex, "git")["outputs"];
    assert_eq!(out["updated"], json!(["models/a.sql"]));
    assert_eq!(out["deleted"], json!(["models/b.sql"]));
    assert_eq!(
        list(&env, "company.team"),
        ["/dbt_project.yml", "/models/a.sql", "/models/b.sql"]
    );
    let o = env.weir(&["namespace", "files", "get", "company.team", "models/a.sql"]);
    assert_eq!(o.stdout, "select 1\n");

    // Without `delete`, b.sql stays; with it, it goes.
    let o = env.run_flow("sync.yaml", SYNC, &["-i", &input]);
    ok(&o);
    assert_eq!(
        list(&env, "company.team"),
        ["/dbt_project.yml", "/models/a.sql", "/models/b.sql"]
    );
    let o = env.weir(&["namespace", "files", "get", "company.team", "models/a.sql"]);
    assert_eq!(o.stdout, "select 10\n");
    let o = env.run_flow("sync.yaml", SYNC, &["-i", &input, "-i", "delete=true"]);
    ok(&o);
    assert_eq!(
        list(&env, "company.team"),
        ["/dbt_project.yml", "/models/a.sql"]
    );

    // A missing gitDirectory is a clear failure.
    let o = env.run_flow(
        "missing.yaml",
        &SYNC.replace("gitDirectory: dbt", "gitDirectory: nope"),
        &["-i", &input],
    );
    assert_ne!(o.code, 0, "{o:#?}");
    let msgs = env.log_messages(o.stdout.trim(), Some("git"));
    assert!(
        msgs.iter().any(|m| m.contains("`nope`")),
        "{msgs:?}\n{o:#?}"
    );
}

#[test]
fn sync_then_run_a_script_on_the_synced_files() {
    let env = Env::new();
    let url = repo_with(&env, &[("_files/query.sql", "select 42\n")]);
    // Kestra's docs example's defaults: `gitDirectory` `_files`, `branch` `main`.
    let o = env.run_flow(
        "flow.yaml",
        &format!(
            r#"
id: sync_and_run
namespace: company.team
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncNamespaceFiles
    url: {url}
  - id: show
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enabled: true
    commands:
      - cat query.sql
"#
        ),
        &[],
    );
    ok(&o);
    let msgs = env.log_messages(&o.id(), Some("show"));
    assert!(msgs.iter().any(|m| m == "select 42"), "{msgs:?}");
}

#[test]
fn clone_outputs_its_directory_and_masks_credentials() {
    let env = Env::new();
    let url = repo_with(
        &env,
        &[("etl/script.sh", "echo hi\n"), ("README.md", "r\n")],
    );
    let o = env.run_flow(
        "flow.yaml",
        &format!(
            r#"
id: clone
namespace: company.team
tasks:
  - id: clone
    type: io.kestra.plugin.git.Clone
    url: {url}
    branch: main
    directory: src
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "cloned into {{{{ outputs.clone.directory }}}}"
"#
        ),
        &[],
    );
    ok(&o);
    let ex = env.show(&o.id());
    let dir = run_of(&ex, "clone")["outputs"]["directory"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(dir.ends_with("/src"), "{dir}");
    let msgs = env.log_messages(&o.id(), Some("clone"));
    assert!(msgs.iter().any(|m| m.contains("(2 files)")), "{msgs:?}");

    // A failing https clone never shows the password.
    let o = env.run_flow(
        "secret.yaml",
        r#"
id: clone_secret
namespace: company.team
tasks:
  - id: clone
    type: io.kestra.plugin.git.Clone
    url: http://127.0.0.1:9/nothing.git
    username: someone
    password: s3cr3t-t0ken
"#,
        &[],
    );
    assert_ne!(o.code, 0, "{o:#?}");
    let id = o.stdout.trim().to_string();
    let logs = env.weir(&["executions", "logs", &id]);
    assert!(!logs.stdout.contains("s3cr3t-t0ken"), "{}", logs.stdout);
    assert!(!o.stderr.contains("s3cr3t-t0ken"), "{}", o.stderr);
    assert!(logs.stdout.contains("127.0.0.1:9"), "{}", logs.stdout);
}
