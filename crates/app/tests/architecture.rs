//! The layering rules of docs/ARCHITECTURE.md, checked: what each crate must
//! not depend on, and the few calls that belong to one module only.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `cargo tree` of one package's normal dependencies with its default
/// features, one crate name per line.
fn normal_tree(package: &str, depth: Option<u32>) -> Vec<String> {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(workspace()).args([
        "tree",
        "--offline",
        "-p",
        package,
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    if let Some(d) = depth {
        c.args(["--depth", &d.to_string()]);
    }
    let out = c.output().expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Direct normal dependencies of a workspace package, from `cargo metadata`.
fn direct_dependencies(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args([
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pkg = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("{package} is in the workspace"));
    pkg["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"].is_null()) // null = normal; "dev" and "build" are not shipped
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_web_crate_reaches_data_only_through_the_application_layer() {
    let deps = direct_dependencies("carepath-web");
    assert!(deps.contains(&"carepath-app".to_string()), "{deps:?}");
    assert!(
        !deps.contains(&"carepath-store".to_string()),
        "carepath-web must not depend on carepath-store: {deps:?}"
    );
    // And as `cargo tree` shows it: no store among the web crate's own
    // dependencies (it is reached only through carepath-app).
    let first_level = normal_tree("carepath-web", Some(1));
    assert!(
        !first_level.iter().any(|c| c == "carepath-store"),
        "{first_level:?}"
    );
}

#[test]
fn the_application_crate_builds_without_any_http_or_template_crate() {
    let tree = normal_tree("carepath-app", None);
    assert!(tree.iter().any(|c| c == "carepath-store"), "{tree:?}");
    for banned in [
        "axum",
        "axum-core",
        "askama",
        "tower",
        "tower-http",
        "hyper",
        "utoipa",
    ] {
        assert!(
            !tree.iter().any(|c| c == banned),
            "carepath-app (default features) pulls in {banned}"
        );
    }
}

#[test]
fn the_store_knows_nothing_of_services_or_http() {
    let tree = normal_tree("carepath-store", None);
    for banned in ["carepath-app", "carepath-web", "axum", "askama"] {
        assert!(!tree.iter().any(|c| c == banned), "store pulls in {banned}");
    }
}

/// Every `.rs` file under the workspace's `crates/*/src` directories.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = workspace();
    let mut files = vec![];
    for c in std::fs::read_dir(root.join("crates")).unwrap() {
        let src = c.unwrap().path().join("src");
        if src.is_dir() {
            walk(&src, &mut files);
        }
    }
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn offenders(pattern: &[&str], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = vec![];
    for (path, text) in sources() {
        if allowed(&path) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if pattern.iter().any(|p| line.contains(p)) {
                found.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn wall_clock_time_is_read_only_by_the_clock() {
    // Services take `app.clock`; the store takes times as parameters. A
    // monotonic `Instant` (durations for metrics and benchmarks) is not a
    // clock reading and stays allowed.
    let found = offenders(
        &[
            "Timestamp::now(",
            "SystemTime::now(",
            "Zoned::now(",
            "Date::today(",
            "time::UNIX_EPOCH",
        ],
        |p| p == "crates/app/src/clock.rs",
    );
    assert!(
        found.is_empty(),
        "clock read outside the clock:\n{found:#?}"
    );
}

#[test]
fn record_bodies_are_read_and_built_only_by_the_record_kinds() {
    let found = offenders(
        &[
            "body[\"",
            "from_value(json!",
            "from_value(serde_json::json!",
        ],
        |p| p.starts_with("crates/app/src/kinds/"),
    );
    assert!(
        found.is_empty(),
        "untyped record body outside kinds:\n{found:#?}"
    );
}

#[test]
fn only_the_application_layer_and_tools_name_the_store() {
    let found = offenders(&["carepath_store"], |p| {
        p.starts_with("crates/app/")
            || p.starts_with("crates/store/")
            || p.starts_with("crates/testkit/")
            || p.starts_with("crates/cli/")
    });
    assert!(found.is_empty(), "{found:#?}");
}
