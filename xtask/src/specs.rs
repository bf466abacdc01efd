//! `cargo xtask specs fetch` and `cargo xtask specs pin`: the pinned upstream files and their cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Result;
use crate::config::{self, Pin, Project, SpecSet};
use crate::spec_diff;
pub use crate::spec_diff::ModuleDocs;

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

/// Pinned files no set names: the OAuth scope table the `Scope` enum is generated from. Each
/// set's common schemas are pinned with it, and so are the webhook event docs: every `*.md`
/// under [`crate::webhook_events::EVENTS_DIR`] (see [`folder_files`]).
pub const SHARED_FILES: [&str; 1] = [crate::scopes::SCOPES_DOC];

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
    // The workspace's reqwest has no rustls provider of its own (the SDK picks one).
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
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

/// Loads every module spec of `set` from the cache, verified.
pub fn load_set(project: &Project, set: &SpecSet) -> Result<ModuleDocs> {
    let mut docs = BTreeMap::new();
    for module in &set.modules {
        docs.insert(module.name.clone(), read_json(project, &module.spec)?);
    }
    Ok(docs)
}

/// The variable naming a folder of upstream trees by commit, for tests that compare commits.
pub const SPEC_COPIES_ENV: &str = "HIGHLEVEL_SPEC_COPIES";

/// The upstream tree of `commit` for a test, through the spec cache: `specs/.cache/<commit>`,
/// filled from `$HIGHLEVEL_SPEC_COPIES/<commit>` when it is not there yet. Panics (the test
/// fails, never skips) when neither has it.
#[cfg(test)]
pub fn test_copy(commit: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cached = config::cache_dir(&root, commit);
    let marker = cached.join(".complete");
    if marker.is_file() {
        return cached;
    }
    let Some(copies) = std::env::var_os(SPEC_COPIES_ENV).filter(|v| !v.is_empty()) else {
        panic!(
            "the upstream tree of {commit} is not in {}; run `cargo xtask test --spec-copies DIR` \
             or set {SPEC_COPIES_ENV} to a folder of upstream trees named by commit",
            cached.display()
        );
    };
    let source = PathBuf::from(copies).join(commit);
    copy_tree(&source, &cached)
        .unwrap_or_else(|e| panic!("cannot copy {} into the cache: {e}", source.display()));
    std::fs::write(&marker, b"").expect("mark the cached copy complete");
    cached
}

#[cfg(test)]
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Fails on the first reference of `set`'s module specs that leads nowhere: a local `$ref` to
/// nothing is left to the repairs, but a reference into another file must name the set's common
/// file (whatever relative path it spells) and something in it. The error names the set, the
/// module, the reference and the JSON pointer where it stands.
pub fn check_references(set: &SpecSet, docs: &spec_diff::ModuleDocs, common: &Value) -> Result<()> {
    fn walk(node: &Value, at: &mut String, found: &mut Option<(String, String)>, common: &Value) {
        if found.is_some() {
            return;
        }
        match node {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref")
                    && let Some((file, pointer)) = reference.split_once('#')
                    && !file.is_empty()
                    && (!file.ends_with(COMMON_FILE_NAME) || common.pointer(pointer).is_none())
                {
                    *found = Some((reference.clone(), at.clone()));
                    return;
                }
                for (key, value) in map {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&crate::openapi::pointer_token(key));
                    walk(value, at, found, common);
                    at.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, value) in items.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    walk(value, at, found, common);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }
    for module in &set.modules {
        let Some(doc) = docs.get(&module.name) else {
            continue;
        };
        let mut found = None;
        walk(doc, &mut String::new(), &mut found, common);
        if let Some((reference, pointer)) = found {
            return Err(format!(
                "set `{}`, module `{}` ({}): reference `{reference}` at #{pointer} does not \
                 resolve in the set's common file {}",
                set.name, module.name, module.spec, set.common
            )
            .into());
        }
    }
    Ok(())
}

/// The file name every set's module specs use for their common schemas.
const COMMON_FILE_NAME: &str = "common-schemas.json";

/// What `specs pin` found: per set, what changed in its operations.
pub type PinReport = Vec<(String, spec_diff::SpecDiff)>;

/// Moves the pin to `commit`, whose files are in `dir`, and reports what changed per set.
///
/// Module rows whose file the new commit lacks are reported as removed and must be deleted
/// from their module table; spec files a set's folder holds that its table does not know yet
/// are reported as new modules.
pub fn pin(project: &Project, commit: &str, dir: &Path) -> Result<PinReport> {
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{commit}` is not a full 40-digit commit hash").into());
    }
    let mut files = BTreeMap::new();
    let mut report = Vec::new();
    let mut unknown_all = Vec::new();
    for set in &project.sets {
        // A set added since the last pin has nothing pinned yet: all its modules are new.
        let mut old = BTreeMap::new();
        for module in set
            .modules
            .iter()
            .filter(|m| project.pin.files.contains_key(&m.spec))
        {
            old.insert(module.name.clone(), read_json(project, &module.spec)?);
        }
        let mut new = BTreeMap::new();
        for module in &set.modules {
            let Ok(bytes) = std::fs::read(dir.join(&module.spec)) else {
                continue;
            };
            new.insert(module.name.clone(), parse_json(&module.spec, &bytes)?);
            files.insert(module.spec.clone(), sha256_hex(&bytes));
        }
        let Ok(common) = std::fs::read(dir.join(&set.common)) else {
            if new.is_empty() {
                eprintln!(
                    "specs pin: set `{}` is absent at {} (no {} and none of its modules); \
                     remove it from {} to generate from this commit",
                    set.name,
                    short(commit),
                    set.common,
                    config::SETS_FILE
                );
                report.push((set.name.clone(), spec_diff::diff(&old, &new)));
                continue;
            }
            return Err(format!(
                "set `{}`: common file {} is missing from {}",
                set.name,
                set.common,
                dir.display()
            )
            .into());
        };
        files.insert(set.common.clone(), sha256_hex(&common));
        let unknown = unknown_spec_files(set, dir)?;
        for (name, rel) in &unknown {
            let bytes = std::fs::read(dir.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
            new.insert(name.clone(), parse_json(rel, &bytes)?);
        }
        unknown_all.extend(unknown.into_iter().map(|(_, rel)| (set, rel)));
        report.push((set.name.clone(), spec_diff::diff(&old, &new)));
    }
    for rel in SHARED_FILES {
        let bytes = std::fs::read(dir.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
        files.insert(rel.to_string(), sha256_hex(&bytes));
    }
    for rel in folder_files(dir, crate::webhook_events::EVENTS_DIR, "md")? {
        let bytes = std::fs::read(dir.join(&rel)).map_err(|e| format!("{rel}: {e}"))?;
        files.insert(rel, sha256_hex(&bytes));
    }

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

    for set in &project.sets {
        let missing: Vec<_> = set
            .modules
            .iter()
            .filter(|m| !moved.pin.files.contains_key(&m.spec))
            .map(|m| m.name.as_str())
            .collect();
        if !missing.is_empty() {
            eprintln!(
                "specs pin: remove these rows from specs/{}, their files are gone: {}",
                set.module_table,
                missing.join(", ")
            );
        }
    }
    for (set, rel) in &unknown_all {
        eprintln!(
            "specs pin: add a row to specs/{} for the new spec file {rel}",
            set.module_table
        );
    }
    Ok(report)
}

/// The `*.json` files directly in `set`'s folder of `dir` that no module row reads, as
/// (module name, path): `contacts-v3.json` names module `contacts` in a folder whose other files
/// all end in `-v3`.
fn unknown_spec_files(set: &SpecSet, dir: &Path) -> Result<Vec<(String, String)>> {
    let folder = dir.join(&set.folder);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot list {}: {e}", folder.display()).into()),
    };
    let mut unknown = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let rel = format!("{}/{name}", set.folder);
        if !set.modules.iter().any(|m| m.spec == rel) {
            let module = set
                .modules
                .first()
                .and_then(|m| suffix_of(m))
                .and_then(|suffix| stem.strip_suffix(suffix))
                .unwrap_or(stem);
            unknown.push((module.to_string(), rel));
        }
    }
    unknown.sort();
    Ok(unknown)
}

/// The suffix a set's file stems add to module names (`-v3` for `contacts-v3.json`).
fn suffix_of(module: &config::Module) -> Option<&str> {
    let file = module.spec.rsplit('/').next()?.strip_suffix(".json")?;
    file.strip_prefix(module.name.as_str())
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
        test_copy(commit)
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
            "sets.toml",
            "modules.toml",
            "modules-v3.toml",
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
        let report = pin(&project, OLDER, &shared_copy(OLDER)).expect("pin older");
        let diff = &report[0].1;
        assert_eq!(report[0].0, "v2");
        assert_eq!(
            report[1].1.modules_removed.len(),
            42,
            "the v3 set is absent in May"
        );
        // The v3 rows are not pinned at that commit: only the tables load.
        let older = Project::load_tables(&project.root).expect("reload");
        assert_eq!(older.pin.commit, OLDER);
        for (rel, hash) in &older.pin.files {
            let bytes = std::fs::read(shared_copy(OLDER).join(rel)).expect("file of older copy");
            assert_eq!(sha256_hex(&bytes), *hash, "{rel}");
            assert!(older.cache_dir().join(rel).is_file(), "{rel} cached");
        }
        assert_eq!(diff.operations_added(), 2, "{diff}");
        assert_eq!(diff.breaking_count(), 0, "{diff}");

        // ...then move the pin forward to 2026-06-19, as a maintainer would.
        let sets = pin(&older, NEWEST, &shared_copy(NEWEST)).expect("pin newest");
        let diff = &sets[0].1;
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
    fn a_reference_the_common_file_lacks_is_named_with_its_set_module_and_pointer() {
        let project = scratch_project("refs");
        let set = &project.sets[1];
        let common = serde_json::json!({ "components": { "schemas": { "BadRequestDTO": {} } } });
        let module = &set.modules[0];
        let doc = serde_json::json!({ "paths": { "/a/{id}": { "get": { "responses": {
            "400": { "$ref": "../common/common-schemas.json#/components/schemas/BadRequestDTO" },
            "404": { "$ref": "../common/common-schemas.json#/components/schemas/NotFoundDTO" } } } } } });
        let docs = ModuleDocs::from([(module.name.clone(), doc)]);
        let err = check_references(set, &docs, &common).expect_err("NotFoundDTO is not there");
        assert_eq!(
            err.to_string(),
            format!(
                "set `v3`, module `{}` ({}): reference `../common/common-schemas.json#/components/schemas/NotFoundDTO` \
                 at #/paths/~1a~1{{id}}/get/responses/404 does not resolve in the set's common file \
                 apps/v3/common/common-schemas.json",
                module.name, module.spec
            )
        );
    }

    #[test]
    fn a_module_row_naming_an_unpinned_file_fails_at_load() {
        let project = scratch_project("row");
        let table = project.root.join("specs/modules-v3.toml");
        let text = std::fs::read_to_string(&table).expect("table");
        let text = text.replacen(
            "apps/v3/ad-publishing-v3.json",
            "apps/v3/nowhere-v3.json",
            1,
        );
        std::fs::write(&table, text).expect("edit table");
        let err = Project::load(&project.root).expect_err("the row's file is not pinned");
        assert!(
            err.to_string()
                .contains("set `v3` module `ad-publishing` reads `apps/v3/nowhere-v3.json`"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&project.root);
    }

    #[test]
    fn an_overlay_naming_a_module_one_of_its_sets_lacks_fails_at_load() {
        let project = scratch_project("overlay");
        let overlays = project.root.join("specs/overlays.toml");
        let text = std::fs::read_to_string(&overlays).expect("overlays");
        let text = format!(
            "{text}\n[[operation]]\nsets = [\"v2\", \"v3\"]\nmodule = \"saas-api\"\n\
             operation = \"x\"\nreason = \"test\"\n"
        );
        std::fs::write(&overlays, text).expect("edit overlays");
        let err = Project::load(&project.root).expect_err("v3 has no saas-api");
        assert_eq!(
            err.to_string(),
            "specs/overlays.toml: the entry for `x` names module `saas-api`, which set `v3` does not have"
        );
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
