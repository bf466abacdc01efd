//! `cargo xtask test`: the one command CI runs (`.ci/run`), from a fresh clone to green.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::Result;
use crate::codegen;
use crate::config::Project;
use crate::specs::{self, Source};

/// Crates written by hand: formatted with rustfmt and held to clippy's warnings.
const HAND_WRITTEN: [&str; 4] = ["highlevel", "highlevel-runtime", "highlevel-tests", "xtask"];

pub fn run(root: &Path, specs_from: Option<&Path>) -> Result<()> {
    let started = Instant::now();
    let project = Project::load(root)?;

    step("spec cache", || {
        let source = match specs_from {
            Some(dir) => Source::Dir(dir.to_path_buf()),
            None => default_source(&project),
        };
        specs::fetch(&project, &source)
    })?;
    step("codegen --check", || {
        let differing = codegen::run(&project, codegen::Mode::Check)?;
        if differing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "generated code differs from the pinned specs: {}; run `cargo xtask codegen`",
                differing.join(", ")
            )
            .into())
        }
    })?;
    step("rustfmt (hand-written crates)", || {
        let mut args = vec!["fmt", "--check"];
        for krate in HAND_WRITTEN {
            args.extend(["-p", krate]);
        }
        cargo(root, &args)
    })?;
    step("clippy -D warnings (hand-written crates)", || {
        let mut args = vec!["clippy", "--all-targets", "--all-features"];
        for krate in HAND_WRITTEN {
            args.extend(["-p", krate]);
        }
        args.extend(["--", "-D", "warnings"]);
        cargo(root, &args)
    })?;
    step("each module feature compiles alone, and `full`", || {
        let mut features: Vec<&str> = project.modules.iter().map(|m| m.feature.as_str()).collect();
        features.push("full");
        for feature in features {
            cargo(
                root,
                &[
                    "check",
                    "--quiet",
                    "-p",
                    "highlevel",
                    "--no-default-features",
                    "--features",
                    feature,
                ],
            )
            .map_err(|e| format!("feature `{feature}`: {e}"))?;
        }
        Ok(())
    })?;
    step("tests: workspace", || {
        cargo(root, &["test", "--workspace", "--exclude", "xtask"])
    })?;
    step("tests: xtask", || cargo(root, &["test", "-p", "xtask"]))?;
    eprintln!(
        "xtask test: all steps passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// CI and this workspace have the upstream copies beside the project; elsewhere, download.
fn default_source(project: &Project) -> Source {
    let local: PathBuf = project
        .root
        .join("..")
        .join("shared")
        .join("specs")
        .join("highlevel-api-docs")
        .join(&project.pin.commit);
    if local.is_dir() {
        Source::Dir(local)
    } else {
        Source::Upstream
    }
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("==> {name}");
    let started = Instant::now();
    f().map_err(|e| format!("{name}: {e}"))?;
    eprintln!("    {name}: ok in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")).into())
    }
}
