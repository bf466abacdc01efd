//! `cargo xtask specs fetch` and `cargo xtask specs pin`: the pinned upstream files and their cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Result;
use crate::config::{self, Pin, Project};
use crate::spec_diff;

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the pinned files come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A local copy laid out like the upstream repository.
    Dir(PathBuf),
    /// The upstream repository itself, at the pinned commit.
    Upstream,
}

/// Pinned files no module row names: the shared schemas the module specs reference as
/// `../common/...` (the generator stubs those references; the conformance mock serves them),
/// and the OAuth scope table the `Scope` enum is generated from. The webhook event docs are
/// pinned too: every `*.md` under [`crate::webhook_events::EVENTS_DIR`] (see [`folder_files`]).
pub const SHARED_FILES: [&str; 2] = ["common/common-schemas.json", crate::scopes::SCOPES_DOC];

/// Pinned files under `folder` (a path prefix ending in `/`), in path order.
pub fn pinned_under<'a>(
    project: &'a Project,
    folder: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    project
        .pin
        .files
        .keys()
        .map(String::as_str)
        .filter(move |rel| rel.starts_with(folder))
}

/// The `*.<ext>` files directly in `dir/<folder>` (a path prefix ending in `/`), as paths
/// relative to `dir`, sorted.
pub fn folder_files(dir: &Path, folder: &str, ext: &str) -> Result<Vec<String>> {
    let path = dir.join(folder);
    let entries =
        std::fs::read_dir(&path).map_err(|e| format!("cannot list {}: {e}", path.display()))?;
    let mut files: Vec<String> = entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(&format!(".{ext}")))
        .map(|name| format!("{folder}{name}"))
        .collect();
    files.sort();
    Ok(files)
}

/// Fills the cache with every pinned file, checking each against its pinned hash.
pub fn fetch(project: &Project, source: &Source) -> Result<()> {
    let cache = project.cache_dir();
    let mut copied = 0usize;
    for (rel, expected) in &project.pin.files {
        let target = cache.join(rel);
        if let Ok(existing) = std::fs::read(&target)
            && sha256_hex(&existing) == *expected
        {
            continue;
        }
        let bytes = match source {
            Source::Dir(dir) => std::fs::read(dir.join(rel))
                .map_err(|e| format!("{rel}: missing from {} ({e})", dir.display()))?,
            Source::Upstream => download(&project.pin, rel)?,
        };
        let actual = sha256_hex(&bytes);
        if actual != *expected {
            return Err(format!(
                "{rel}: SHA-256 is {actual}, but specs/pin.toml pins {expected} for commit {}; \
                 the source is not that commit's file",
                project.pin.commit
            )
            .into());
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        copied += 1;
    }
    eprintln!(
        "specs: {} files of {}@{} verified in {} ({copied} written)",
        project.pin.files.len(),
        project.pin.upstream,
        short(&project.pin.commit),
        cache.display()
    );
    Ok(())
}

fn download(pin: &Pin, rel: &str) -> Result<Vec<u8>> {
    let encoded: String = rel
        .split('/')
        .map(|segment| segment.replace(' ', "%20"))
        .collect::<Vec<_>>()
        .join("/");
    let url = format!(
        "https://raw.githubusercontent.com/{}/{}/{encoded}",
        pin.upstream, pin.commit
    );
    let response =
        reqwest::blocking::get(&url).map_err(|e| format!("{rel}: download failed: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{rel}: download from {url} answered {}", response.status()).into());
    }
    let bytes = response
        .bytes()
        .map_err(|e| format!("{rel}: download failed: {e}"))?;
    Ok(bytes.to_vec())
}

/// Reads one pinned file from the cache; a missing or altered file is an error naming it.
pub fn read_verified(project: &Project, rel: &str) -> Result<Vec<u8>> {
    let expected = project
        .pin
        .files
        .get(rel)
        .ok_or_else(|| format!("{rel} is not pinned in specs/pin.toml"))?;
    let path = project.cache_dir().join(rel);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "{rel}: not in the spec cache ({}: {e}); run `cargo xtask specs fetch` first",
            path.display()
        )
    })?;
    let actual = sha256_hex(&bytes);
    if actual != *expected {
        return Err(format!(
            "{rel}: cached file {} was altered: SHA-256 {actual}, pinned {expected}; \
             run `cargo xtask specs fetch` again",
            path.display()
        )
        .into());
    }
    Ok(bytes)
}

fn parse_json(rel: &str, bytes: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|e| format!("{rel}: not valid JSON: {e}").into())
}

/// Reads one pinned file from the cache, verified, as JSON.
pub fn read_json(project: &Project, rel: &str) -> Result<serde_json::Value> {
    parse_json(rel, &read_verified(project, rel)?)
}

/// Loads every module's spec from the cache, verified.
pub fn load_modules(project: &Project) -> Result<spec_diff::SpecSet> {
    let mut set = BTreeMap::new();
    for module in &project.modules {
        set.insert(module.name.clone(), read_json(project, &module.spec)?);
    }
    Ok(set)
}

/// Moves the pin to `commit`, whose files are in `dir`, and prints what changed.
///
/// Module rows whose file the new commit lacks are reported as removed and must be deleted
/// from `specs/modules.toml`; spec files the table does not know yet are reported as new modules.
pub fn pin(project: &Project, commit: &str, dir: &Path) -> Result<spec_diff::SpecDiff> {
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{commit}` is not a full 40-digit commit hash").into());
    }
    let old = load_modules(project)?;

    let mut new = BTreeMap::new();
    let mut files = BTreeMap::new();
    for module in &project.modules {
        let Ok(bytes) = std::fs::read(dir.join(&module.spec)) else {
            continue;
        };
        new.insert(module.name.clone(), parse_json(&module.spec, &bytes)?);
        files.insert(module.spec.clone(), sha256_hex(&bytes));
    }
    for rel in SHARED_FILES {
        let bytes = std::fs::read(dir.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
        files.insert(rel.to_string(), sha256_hex(&bytes));
    }
    for rel in folder_files(dir, crate::webhook_events::EVENTS_DIR, "md")? {
        let bytes = std::fs::read(dir.join(&rel)).map_err(|e| format!("{rel}: {e}"))?;
        files.insert(rel, sha256_hex(&bytes));
    }
    let unknown = unknown_spec_files(project, dir)?;
    for (name, rel) in &unknown {
        let bytes = std::fs::read(dir.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
        new.insert(name.clone(), parse_json(rel, &bytes)?);
    }

    let diff = spec_diff::diff(&old, &new);
    let new_pin = Pin {
        upstream: project.pin.upstream.clone(),
        commit: commit.to_ascii_lowercase(),
        files,
    };
    config::write_pin(&project.pin_path(), &new_pin)?;
    let moved = Project {
        pin: new_pin,
        ..project.clone()
    };
    fetch(&moved, &Source::Dir(dir.to_path_buf()))?;

    let missing: Vec<_> = project
        .modules
        .iter()
        .filter(|m| !moved.pin.files.contains_key(&m.spec))
        .map(|m| m.name.as_str())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "specs pin: remove these rows from specs/modules.toml, their files are gone: {}",
            missing.join(", ")
        );
    }
    if !unknown.is_empty() {
        let names: Vec<_> = unknown.iter().map(|(_, rel)| rel.as_str()).collect();
        eprintln!(
            "specs pin: add rows to specs/modules.toml for the new spec files: {}",
            names.join(", ")
        );
    }
    Ok(diff)
}

/// Top-level `apps/*.json` files of `dir` that no module row reads.
fn unknown_spec_files(project: &Project, dir: &Path) -> Result<Vec<(String, String)>> {
    let apps = dir.join("apps");
    let entries =
        std::fs::read_dir(&apps).map_err(|e| format!("cannot list {}: {e}", apps.display()))?;
    let mut unknown = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let rel = format!("apps/{name}");
        if !project.modules.iter().any(|m| m.spec == rel) {
            unknown.push((stem.to_string(), rel));
        }
    }
    unknown.sort();
    Ok(unknown)
}

pub fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEWEST: &str = "0af86a4cbd48c66a4071c7e509d1079f9f10ed17";
    const OLDER: &str = "d9cbcd5adb6df45c3efcfd09155592312e1ca4b5";

    fn shared_copy(commit: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/specs/highlevel-api-docs")
            .join(commit)
    }

    /// A scratch workspace holding a copy of the project's `specs/` data (not the cache).
    fn scratch_project(name: &str) -> Project {
        let root = std::env::temp_dir().join(format!("xtask-specs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let specs = root.join("specs");
        std::fs::create_dir_all(&specs).expect("scratch dir");
        let project_specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
        for file in [
            "pin.toml",
            "modules.toml",
            "overlays.toml",
            "pagination.toml",
        ] {
            std::fs::copy(project_specs.join(file), specs.join(file)).expect("copy specs data");
        }
        Project::load(&root).expect("scratch project loads")
    }

    #[test]
    fn pin_moves_from_the_may_copy_to_the_june_copy_and_reports_the_change() {
        let project = scratch_project("pin");
        assert_eq!(
            project.pin.commit, NEWEST,
            "the project pins the newest copy"
        );
        fetch(&project, &Source::Dir(shared_copy(NEWEST))).expect("fetch newest");

        // Step back to 2026-05-01, as if the project had been generated from it...
        let diff = pin(&project, OLDER, &shared_copy(OLDER)).expect("pin older");
        let older = Project::load(&project.root).expect("reload");
        assert_eq!(older.pin.commit, OLDER);
        for (rel, hash) in &older.pin.files {
            let bytes = std::fs::read(shared_copy(OLDER).join(rel)).expect("file of older copy");
            assert_eq!(sha256_hex(&bytes), *hash, "{rel}");
            assert!(older.cache_dir().join(rel).is_file(), "{rel} cached");
        }
        assert_eq!(diff.operations_added(), 2, "{diff}");
        assert_eq!(diff.breaking_count(), 0, "{diff}");

        // ...then move the pin forward to 2026-06-19, as a maintainer would.
        let diff = pin(&older, NEWEST, &shared_copy(NEWEST)).expect("pin newest");
        let report = diff.to_string();
        println!("{report}");
        let newest = Project::load(&project.root).expect("reload");
        assert_eq!(
            newest.pin, project.pin,
            "moving back reproduces the project's own pin"
        );
        assert_eq!(diff.operations_removed(), 2, "{report}");
        assert_eq!(diff.breaking_count(), 2, "{report}");
        assert!(
            report.contains("GET /voice-ai/voices (get-voices)"),
            "{report}"
        );
        assert!(report.contains("BREAKING"), "{report}");
        let _ = std::fs::remove_dir_all(&project.root);
    }

    #[test]
    fn altered_or_missing_files_are_named() {
        let project = scratch_project("tamper");
        let source = shared_copy(NEWEST);
        fetch(&project, &Source::Dir(source.clone())).expect("fetch");

        let rel = "apps/contacts.json";
        let cached = project.cache_dir().join(rel);
        let mut bytes = std::fs::read(&cached).expect("cached file");
        bytes.extend_from_slice(b" ");
        std::fs::write(&cached, &bytes).expect("tamper");
        let err = read_verified(&project, rel)
            .expect_err("tampered cache must fail")
            .to_string();
        assert!(err.contains(rel) && err.contains("altered"), "{err}");

        // fetch repairs the cache from a good source...
        fetch(&project, &Source::Dir(source)).expect("refetch");
        assert!(read_verified(&project, rel).is_ok());

        // ...and refuses a source whose file is not the pinned one, or lacks it.
        let bad = project.root.join("bad-source");
        std::fs::create_dir_all(bad.join("apps")).expect("bad source");
        std::fs::write(bad.join(rel), &bytes).expect("bad file");
        std::fs::remove_file(&cached).expect("drop cached");
        let err = fetch(&project, &Source::Dir(bad.clone()))
            .expect_err("altered source")
            .to_string();
        assert!(err.contains(rel) && err.contains("SHA-256"), "{err}");
        std::fs::remove_file(bad.join(rel)).expect("drop bad file");
        let err = fetch(&project, &Source::Dir(bad))
            .expect_err("missing file")
            .to_string();
        assert!(err.contains(rel) && err.contains("missing"), "{err}");
        let _ = std::fs::remove_dir_all(&project.root);
    }
}
