//! The scratch crate each build compiles: created, fetched, built cold under GNU time and
//! again for the SDK's own packages, and deleted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::figures::{Rebuild, Sample};
use super::readings::{parse_time_cpu, parse_time_max_rss_kib, tree_rss_kib};
use crate::Result;

pub(super) const GNU_TIME: &str = "/usr/bin/time";
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// The package name of the scratch crate, one of the packages rebuilt as the SDK's own.
pub(super) const SCRATCH: &str = "bench-build-scratch";

/// A scratch binary crate in a temporary folder, deleted on drop.
pub(super) struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub(super) fn create(dependency: &str, lock: &Path) -> Result<Self> {
        let dir = unique_temp_dir()?;
        let scratch = Self { dir };
        std::fs::create_dir_all(scratch.dir.join("src"))?;
        // Depends on the SDK and names it once, as a user's first program does; which
        // operations it calls hardly matters next to compiling the crates themselves.
        std::fs::write(
            scratch.dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{SCRATCH}\"\nversion = \"0.0.0\"\n\
                 edition = \"2021\"\npublish = false\n\n[dependencies]\n{dependency}\n\n\
                 # Its own workspace: a member of nothing, whatever folder it sits in.\n\
                 [workspace]\n"
            ),
        )?;
        let crate_name = dependency
            .split_once(' ')
            .map_or(dependency, |(name, _)| name)
            .replace('-', "_");
        std::fs::write(
            scratch.dir.join("src/main.rs"),
            format!("use {crate_name} as _;\n\nfn main() {{}}\n"),
        )?;
        std::fs::copy(lock, scratch.dir.join("Cargo.lock"))
            .map_err(|e| format!("cannot copy {}: {e}", lock.display()))?;
        Ok(scratch)
    }

    /// Runs in the scratch folder, into its own empty target folder.
    fn configure<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command
            .current_dir(&self.dir)
            .env("CARGO_INCREMENTAL", "0")
            .env("CARGO_TARGET_DIR", self.dir.join("target"))
            .env_remove("CARGO_BUILD_TARGET_DIR")
            // A compiler cache would turn the first build into a cache read.
            .env_remove("RUSTC_WRAPPER")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
    }

    /// Resolves (keeping the copied lock's versions) and downloads; not timed.
    pub(super) fn fetch(&self) -> Result<()> {
        let status = self
            .configure(&mut Command::new(cargo_program()))
            .args(["fetch", "--quiet"])
            .status()
            .map_err(|e| format!("cannot run cargo fetch: {e}"))?;
        if !status.success() {
            return Err(format!("cargo fetch failed in {}", self.dir.display()).into());
        }
        Ok(())
    }

    /// The cold build, then the rebuild of `own` (package specs) with every dependency built.
    pub(super) fn timed_build(&self, own: &[String]) -> Result<Sample> {
        let cold = self.gnu_timed_build()?;
        let mut clean = Command::new(cargo_program());
        self.configure(&mut clean)
            .args(["clean", "--frozen", "--quiet"]);
        for spec in own {
            clean.args(["-p", spec]);
        }
        let status = clean
            .status()
            .map_err(|e| format!("cannot run cargo clean: {e}"))?;
        if !status.success() {
            return Err(format!("cargo clean -p failed in {}", self.dir.display()).into());
        }
        let rebuild = self.gnu_timed_build()?;
        Ok(Sample {
            wall: cold.wall,
            tree_peak_kib: cold.tree_peak_kib,
            largest_process_kib: cold.largest_process_kib,
            cpu: cold.cpu,
            own: Rebuild {
                wall: rebuild.wall,
                cpu: rebuild.cpu,
            },
            dependencies_cpu: cold.cpu.saturating_sub(rebuild.cpu),
        })
    }

    pub(super) fn metadata(&self) -> Result<serde_json::Value> {
        let output = self
            .configure(&mut Command::new(cargo_program()))
            .args(["metadata", "--format-version", "1", "--frozen"])
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
        if !output.status.success() {
            return Err(format!("cargo metadata failed in {}", self.dir.display()).into());
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    /// `cargo build --frozen` under GNU time, with the process tree's memory sampled.
    fn gnu_timed_build(&self) -> Result<Timed> {
        let report = self.dir.join("time-v.txt");
        let mut command = Command::new(GNU_TIME);
        self.configure(&mut command)
            .arg("-v")
            .arg("-o")
            .arg(&report)
            .arg(cargo_program())
            .args(["build", "--frozen", "--quiet"])
            .stdout(Stdio::null());
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {GNU_TIME}: {e}"))?;
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let done = Arc::clone(&done);
            let root_pid = child.id();
            std::thread::spawn(move || {
                let mut peak = 0;
                while !done.load(Ordering::Relaxed) {
                    peak = peak.max(tree_rss_kib(root_pid));
                    std::thread::sleep(SAMPLE_EVERY);
                }
                peak
            })
        };
        let status = child.wait();
        let wall = started.elapsed();
        done.store(true, Ordering::Relaxed);
        let tree_peak_kib = sampler.join().map_err(|_| "the memory sampler panicked")?;
        let status = status.map_err(|e| format!("{GNU_TIME} cargo build: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build failed in {}", self.dir.display()).into());
        }
        let report = std::fs::read_to_string(&report)?;
        let largest_process_kib = parse_time_max_rss_kib(&report)
            .ok_or("GNU time printed no \"Maximum resident set size\"")?;
        let cpu = parse_time_cpu(&report).ok_or("GNU time printed no user and system time")?;
        Ok(Timed {
            wall,
            tree_peak_kib,
            largest_process_kib,
            cpu,
        })
    }
}

/// One `cargo build` under GNU time.
struct Timed {
    wall: Duration,
    tree_peak_kib: u64,
    largest_process_kib: u64,
    cpu: Duration,
}

/// The SDK's own packages in a scratch crate's `cargo metadata`, as `name@version` specs:
/// `sdk_name`, every resolved package published from the same repository, and the scratch
/// crate. A package without a repository shares none.
pub fn own_packages(metadata: &serde_json::Value, sdk_name: &str) -> Vec<String> {
    let resolved: BTreeSet<&str> = metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| node["id"].as_str())
        .collect();
    let packages: Vec<&serde_json::Value> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|package| {
            package["id"]
                .as_str()
                .is_some_and(|id| resolved.contains(id))
        })
        .collect();
    let repository = packages
        .iter()
        .find(|package| package["name"] == sdk_name)
        .and_then(|package| package["repository"].as_str());
    let mut own: Vec<String> = packages
        .iter()
        .filter(|package| {
            package["name"] == sdk_name
                || package["name"] == SCRATCH
                || repository.is_some() && package["repository"].as_str() == repository
        })
        .filter_map(|package| {
            Some(format!(
                "{}@{}",
                package["name"].as_str()?,
                package["version"].as_str()?
            ))
        })
        .collect();
    own.sort();
    own
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("bench-build: could not delete {}: {e}", self.dir.display());
        }
    }
}

fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn unique_temp_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..1000u32 {
        let dir = base.join(format!(
            "highlevel-bench-build-{}-{attempt}",
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display()).into()),
        }
    }
    Err(format!("no free scratch folder name in {}", base.display()).into())
}

pub(super) fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

pub(super) fn toml_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| toml_string(v)).collect();
    format!("[{}]", quoted.join(", "))
}
