//! The test command's packaging step: `cargo package` of every publishable crate, as
//! crates.io would get it, with each `.crate` file's size.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

use crate::Result;
use crate::codegen::LICENSE_FILES;
use crate::config::Project;

/// A workspace package, as `cargo metadata` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Package {
    name: String,
    version: String,
    dir: PathBuf,
    /// `publish = false` (metadata's `"publish": []`).
    publish: bool,
    /// The workspace packages it depends on by path (of any kind).
    path_dependencies: Vec<String>,
}

/// Packages every publishable crate; fails when one cannot be packaged, lacks a license text,
/// or (for those verified) does not build from its `.crate` alone. Prints each `.crate`'s size.
///
/// Packaging is offline: it runs after the tests, when every dependency is in cargo's cache,
/// and asking crates.io's index again costs about 2 s per crate (3 minutes for all) for no
/// check that the workspace's own Cargo.lock has not made already.
pub fn run(root: &Path, project: &Project) -> Result<()> {
    let metadata = cargo_metadata(root)?;
    let packages = packages(&metadata)?;
    let target_dir = metadata
        .get("target_directory")
        .and_then(Value::as_str)
        .map(PathBuf::from)
        .ok_or("cargo metadata: no target_directory")?;
    let publishable: Vec<&Package> = packages.iter().filter(|p| p.publish).collect();
    let unlicensed: Vec<String> = publishable
        .iter()
        .flat_map(|p| {
            LICENSE_FILES
                .iter()
                .filter(|file| !p.dir.join(file).is_file())
                .map(|file| format!("{}/{file}", p.name))
        })
        .collect();
    if !unlicensed.is_empty() {
        return Err(format!(
            "crates without their license text (a symlink to the root's): {}",
            unlicensed.join(", ")
        )
        .into());
    }

    // Every publishable crate in one invocation: cargo packages them in dependency order and
    // resolves each one's dependencies on the others through a local overlay of the `.crate`
    // files just made, as crates.io would after publishing them in that order. `publish =
    // false` members (the tests and the xtask) are left out; nothing publishable depends on
    // them. Not verified here: cargo rebuilds each generated crate from its `.crate` file one
    // after the other, 1 to 44 s each on this project's 2 shared cores (v3-workflows,
    // v3-social-planner; 10 to 17 s for mid-sized ones), a quarter of an hour for all 83
    // against the few minutes this step may take. They are compiled by the feature and test
    // steps anyway, and their packages hold only the generated sources, the README and the
    // license links.
    let started = Instant::now();
    let mut args = vec!["package", "--workspace", "--no-verify"];
    args.extend(COMMON_ARGS);
    for package in packages.iter().filter(|p| !p.publish) {
        args.extend(["--exclude", package.name.as_str()]);
    }
    super::cargo(root, &args)?;
    eprintln!(
        "    packaged {} crates in {:.1} s",
        publishable.len(),
        started.elapsed().as_secs_f64()
    );

    // The hand-written library crates are verified: each is unpacked and built on its own,
    // which catches a file its build needs that the package leaves out. The facade is not
    // among them: cargo can only resolve its module crates by packaging (and so verifying)
    // all 83 in the same invocation.
    let generated: Vec<&str> = project
        .generated_modules()
        .map(|m| m.crate_name.as_str())
        .collect();
    let verified = verified(&packages, &generated);
    let started = Instant::now();
    let mut args = vec!["package"];
    args.extend(COMMON_ARGS);
    for name in &verified {
        args.extend(["-p", name]);
    }
    super::cargo(root, &args)?;
    eprintln!(
        "    verified {} in {:.1} s",
        verified.join(", "),
        started.elapsed().as_secs_f64()
    );

    let mut sizes = Vec::new();
    for package in &publishable {
        let file = target_dir
            .join("package")
            .join(format!("{}-{}.crate", package.name, package.version));
        let bytes = std::fs::metadata(&file)
            .map_err(|e| format!("{}: {e}", file.display()))?
            .len();
        sizes.push((package.name.clone(), bytes));
    }
    eprint!("{}", size_table(&sizes));
    Ok(())
}

/// Offline (see `run`), and with the working tree's changes: the step checks what is there,
/// whether or not it is committed yet (CI's clone is clean anyway).
const COMMON_ARGS: [&str; 3] = ["--offline", "--allow-dirty", "--quiet"];

fn cargo_metadata(root: &Path) -> Result<Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The workspace's packages from `cargo metadata --no-deps` output.
fn packages(metadata: &Value) -> Result<Vec<Package>> {
    let list = metadata
        .get("packages")
        .and_then(Value::as_array)
        .ok_or("cargo metadata: no packages")?;
    list.iter()
        .map(|p| {
            let text = |key: &str| {
                p.get(key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("cargo metadata: a package without `{key}`"))
            };
            let manifest = PathBuf::from(text("manifest_path")?);
            let dir = manifest
                .parent()
                .ok_or_else(|| format!("{}: no folder", manifest.display()))?
                .to_path_buf();
            // `null`: any registry; `[]`: `publish = false`; a list: those registries.
            let publish = p
                .get("publish")
                .and_then(Value::as_array)
                .is_none_or(|registries| !registries.is_empty());
            let path_dependencies = p
                .get("dependencies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|d| d.get("path").is_some_and(Value::is_string))
                .filter_map(|d| d.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect();
            Ok(Package {
                name: text("name")?,
                version: text("version")?,
                dir,
                publish,
                path_dependencies,
            })
        })
        .collect()
}

/// The publishable crates cargo can verify without packaging a generated crate in the same
/// run: neither generated nor depending on one.
fn verified<'a>(packages: &'a [Package], generated: &[&str]) -> Vec<&'a str> {
    packages
        .iter()
        .filter(|p| p.publish && !generated.contains(&p.name.as_str()))
        .filter(|p| {
            p.path_dependencies
                .iter()
                .all(|d| !generated.contains(&d.as_str()))
        })
        .map(|p| p.name.as_str())
        .collect()
}

/// One line per crate, biggest first, then the total.
fn size_table(sizes: &[(String, u64)]) -> String {
    let mut rows: Vec<&(String, u64)> = sizes.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, bytes) in &rows {
        out.push_str(&format!("    {name:<width$}  {:>10}\n", kib(*bytes)));
    }
    let total: u64 = sizes.iter().map(|(_, bytes)| bytes).sum();
    out.push_str(&format!(
        "    {} crates packaged, {} in all\n",
        sizes.len(),
        kib(total)
    ));
    out
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn metadata() -> Value {
        json!({ "packages": [
            { "name": "xtask", "version": "0.0.0", "publish": [],
              "manifest_path": "/w/xtask/Cargo.toml", "dependencies": [] },
            { "name": "highlevel", "version": "0.1.0", "publish": null,
              "manifest_path": "/w/crates/highlevel/Cargo.toml", "dependencies": [
                { "name": "highlevel-contacts", "path": "/w/crates/highlevel-contacts", "kind": null },
                { "name": "reqwest", "kind": null } ] },
            { "name": "highlevel-contacts", "version": "0.1.0", "publish": null,
              "manifest_path": "/w/crates/highlevel-contacts/Cargo.toml", "dependencies": [
                { "name": "highlevel-runtime", "path": "/w/crates/highlevel-runtime", "kind": null } ] },
            { "name": "highlevel-runtime", "version": "0.1.0", "publish": ["crates-io"],
              "manifest_path": "/w/crates/highlevel-runtime/Cargo.toml", "dependencies": [] }
        ], "target_directory": "/w/target" })
    }

    #[test]
    fn packages_are_read_with_publish_false_and_path_dependencies() {
        let read = packages(&metadata()).expect("reads");
        let publish: Vec<(&str, bool)> =
            read.iter().map(|p| (p.name.as_str(), p.publish)).collect();
        assert_eq!(
            publish,
            [
                ("xtask", false),
                ("highlevel", true),
                ("highlevel-contacts", true),
                ("highlevel-runtime", true)
            ]
        );
        assert_eq!(read[1].path_dependencies, ["highlevel-contacts"]);
        assert_eq!(read[1].dir, Path::new("/w/crates/highlevel"));
        assert_eq!(read[3].version, "0.1.0");
        assert!(packages(&json!({ "packages": [{ "name": "x" }] })).is_err());
    }

    #[test]
    fn crates_that_need_a_generated_crate_packaged_alongside_are_not_verified() {
        let read = packages(&metadata()).expect("reads");
        assert_eq!(
            verified(&read, &["highlevel-contacts"]),
            ["highlevel-runtime"],
            "not xtask (unpublished), the facade (depends on a module crate), nor the module"
        );
        assert_eq!(
            verified(&read, &[]),
            ["highlevel", "highlevel-contacts", "highlevel-runtime"]
        );
    }

    #[test]
    fn sizes_are_listed_biggest_first_with_a_total() {
        let table = size_table(&[
            ("highlevel-a".into(), 2048),
            ("highlevel-bigger".into(), 10 * 1024 + 512),
            ("highlevel-c".into(), 2048),
        ]);
        assert_eq!(
            table,
            "    highlevel-bigger    10.5 KiB\n\
             \x20   highlevel-a          2.0 KiB\n\
             \x20   highlevel-c          2.0 KiB\n\
             \x20   3 crates packaged, 14.5 KiB in all\n"
        );
    }
}
