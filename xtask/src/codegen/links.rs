//! The license files of every generated crate: relative symlinks to the texts at the workspace
//! root, so that `cargo package` (which follows symlinks) puts both licenses in each module
//! crate's `.crate` while the texts live in one place.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Result;

/// The license texts at the workspace root (the crates are `MIT OR Apache-2.0`).
pub const LICENSE_FILES: [&str; 2] = ["LICENSE-APACHE", "LICENSE-MIT"];

/// Each link (its path from the root) and what it must point at, for the given crate folders
/// under `crates/`.
pub fn license_links<'a>(crates: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    crates
        .flat_map(|krate| {
            LICENSE_FILES.map(|file| (format!("crates/{krate}/{file}"), format!("../../{file}")))
        })
        .collect()
}

/// The links that are missing, are not symlinks, or point anywhere else; and the root's
/// texts, when they are missing (every link would dangle).
pub fn differing(root: &Path, links: &BTreeMap<String, String>) -> Vec<String> {
    let mut differing: Vec<String> = LICENSE_FILES
        .iter()
        .filter(|file| !root.join(file).is_file())
        .map(|file| format!("{file} (missing: every generated crate links to it)"))
        .collect();
    differing.extend(
        links
            .iter()
            .filter(|(rel, target)| !links_to(&root.join(rel), target))
            .map(|(rel, target)| format!("{rel} (must be a symlink to {target})")),
    );
    differing
}

/// Creates every link that is not right yet, replacing a file or a link to elsewhere.
pub fn write(root: &Path, links: &BTreeMap<String, String>) -> Result<()> {
    for (rel, target) in links {
        let path = root.join(rel);
        if links_to(&path, target) {
            continue;
        }
        if path.symlink_metadata().is_ok() {
            std::fs::remove_file(&path).map_err(|e| format!("cannot replace {rel}: {e}"))?;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        symlink(target, &path).map_err(|e| format!("cannot link {rel} to {target}: {e}"))?;
    }
    Ok(())
}

fn links_to(path: &Path, target: &str) -> bool {
    std::fs::read_link(path).is_ok_and(|found| found == Path::new(target))
}

#[cfg(unix)]
fn symlink(target: &str, path: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, path)
}

#[cfg(not(unix))]
fn symlink(_target: &str, _path: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "the generated crates' license files are symlinks, which codegen writes on Unix only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch workspace root with the two license texts, removed when dropped.
    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("xtask-links-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("scratch folder");
            for file in LICENSE_FILES {
                std::fs::write(dir.join(file), file).expect("license text");
            }
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn every_crate_links_both_texts_two_folders_up() {
        let links = license_links(["highlevel-a", "highlevel-v3-b"].into_iter());
        assert_eq!(
            links.into_iter().collect::<Vec<_>>(),
            [
                ("crates/highlevel-a/LICENSE-APACHE", "../../LICENSE-APACHE"),
                ("crates/highlevel-a/LICENSE-MIT", "../../LICENSE-MIT"),
                (
                    "crates/highlevel-v3-b/LICENSE-APACHE",
                    "../../LICENSE-APACHE"
                ),
                ("crates/highlevel-v3-b/LICENSE-MIT", "../../LICENSE-MIT"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_copied_or_misdirected_link_differs_until_written() {
        let scratch = Scratch::new("check");
        let root = scratch.0.as_path();
        let links = license_links(["highlevel-a"].into_iter());
        assert_eq!(differing(root, &links).len(), 2, "both links missing");

        write(root, &links).expect("writes");
        assert_eq!(differing(root, &links), Vec::<String>::new());
        let text = std::fs::read_to_string(root.join("crates/highlevel-a/LICENSE-MIT"));
        assert_eq!(text.expect("link resolves"), "LICENSE-MIT");

        // A copy of the text is not the link, nor is a link to another file.
        let mit = root.join("crates/highlevel-a/LICENSE-MIT");
        std::fs::remove_file(&mit).expect("unlink");
        std::fs::write(&mit, "LICENSE-MIT").expect("copy");
        let apache = root.join("crates/highlevel-a/LICENSE-APACHE");
        std::fs::remove_file(&apache).expect("unlink");
        std::os::unix::fs::symlink("../../LICENSE-MIT", &apache).expect("misdirect");
        assert_eq!(
            differing(root, &links),
            [
                "crates/highlevel-a/LICENSE-APACHE (must be a symlink to ../../LICENSE-APACHE)",
                "crates/highlevel-a/LICENSE-MIT (must be a symlink to ../../LICENSE-MIT)",
            ]
        );

        write(root, &links).expect("repairs");
        assert_eq!(differing(root, &links), Vec::<String>::new());
    }

    #[test]
    fn a_missing_root_text_differs() {
        let scratch = Scratch::new("root");
        std::fs::remove_file(scratch.0.join("LICENSE-MIT")).expect("remove");
        let found = differing(&scratch.0, &BTreeMap::new());
        assert_eq!(
            found,
            ["LICENSE-MIT (missing: every generated crate links to it)"]
        );
    }
}
