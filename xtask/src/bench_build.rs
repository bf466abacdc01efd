//! `cargo xtask bench-build`: what a user's first build costs, against a peer SDK.
//!
//! Each measured build is a scratch binary crate in a temporary folder outside the workspace
//! (its own `[workspace]` table, so it belongs to nothing and no workspace feature or profile
//! leaks into it) that depends on one SDK: this workspace's facade by path, or the peer from
//! crates.io, with the given features on top of its default ones, as `cargo add NAME --features
//! ...` writes it (the facade's default is its crypto backend). The workspace's `Cargo.lock` is
//! copied in first, so every dependency both SDKs share resolves to the version this workspace
//! tests with; cargo prunes the rest. The registry is filled with `cargo fetch` before the clock
//! starts; then `cargo build --frozen` (debug, `CARGO_INCREMENTAL=0`) runs into an empty target
//! folder, which is deleted with the scratch crate afterwards.
//!
//! Two memory figures are taken, because neither alone is the whole story:
//! - the peak of the resident memory summed over cargo and every process under it, sampled from
//!   `/proc` every 100 ms: what the machine must hold at once (several rustc run in parallel);
//! - GNU time's "Maximum resident set size": the largest single process, nearly always the
//!   rustc of the biggest crate. Exact, but blind to processes running side by side.
//!
//! Beside wall time it reports CPU time (user + system over the whole build, from GNU time): the
//! work done, apart from how well the build kept the cores busy. On this project's shared 2-core
//! machine it moves between rounds as much as wall time does (a busy host slows every
//! instruction, not only the wait for a core), so rounds, not this figure, even out the noise.
//! With several rounds it also prints each round's ratio: the two builds of a round ran one
//! after the other, so their ratio is spared slow spells that outlast a pair.
//!
//! After each cold build the SDK's own packages (those published from the same repository as
//! the SDK crate, and the scratch crate) are cleaned and built again, every dependency already
//! built. That rebuild is what the SDK's own code costs; the cold build's CPU time less the
//! rebuild's is what its dependencies cost. The split tells a gap that an SDK's code can close
//! from one that lies in the dependencies both SDKs build.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::Result;

const GNU_TIME: &str = "/usr/bin/time";
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
const DEFAULT_PEER: &str = "ghl-sdk@0.5.2";
/// This SDK's crate as a user names it in `[dependencies]`.
const FACADE: &str = "highlevel";
/// The package name of the scratch crate, one of the packages rebuilt as the SDK's own.
const SCRATCH: &str = "bench-build-scratch";
/// Compared when no `--features` is given: one module alone, v2 whole, and v2 + v3 whole
/// (the peer's `full` holds both sets, its `contacts` both sets' contacts).
const DEFAULT_SETS: &[&str] = &["contacts", "full", "full,v3-full=full"];

/// One comparison row: the facade's features and the peer's (None: the peer is not built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSet {
    pub ours: Vec<String>,
    pub peer: Option<Vec<String>>,
}

impl FeatureSet {
    /// `contacts`, `full,v3-full=full` (peer features after `=`), `contacts=` (no peer build).
    pub fn parse(spec: &str) -> Result<Self> {
        let split = |list: &str| -> Vec<String> {
            list.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(String::from)
                .collect()
        };
        let (ours, peer) = match spec.split_once('=') {
            Some((ours, peer)) => {
                let peer = split(peer);
                (split(ours), (!peer.is_empty()).then_some(peer))
            }
            None => (split(spec), Some(split(spec))),
        };
        if ours.is_empty() {
            return Err(format!("bench-build: `{spec}` names no feature of this SDK").into());
        }
        Ok(Self { ours, peer })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub sets: Vec<FeatureSet>,
    pub rounds: usize,
    pub peer_name: String,
    pub peer_version: String,
}

impl Options {
    pub fn parse(args: &[&str]) -> Result<Self> {
        let mut sets = Vec::new();
        let mut rounds = 1;
        let mut peer = DEFAULT_PEER.to_string();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .copied()
                    .ok_or_else(|| format!("bench-build: {arg} needs a value"))
            };
            match *arg {
                "--features" => sets.push(FeatureSet::parse(value()?)?),
                "--rounds" => {
                    let given = value()?;
                    rounds = given
                        .parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .ok_or_else(|| format!("bench-build: `{given}` is not a round count"))?;
                }
                "--peer" => peer = value()?.to_string(),
                other => return Err(format!("bench-build: unknown argument `{other}`").into()),
            }
        }
        if sets.is_empty() {
            sets = DEFAULT_SETS
                .iter()
                .map(|spec| FeatureSet::parse(spec))
                .collect::<Result<_>>()?;
        }
        let (peer_name, peer_version) = peer
            .split_once('@')
            .filter(|(name, version)| !name.is_empty() && !version.is_empty())
            .ok_or_else(|| format!("bench-build: --peer `{peer}` is not NAME@VERSION"))?;
        Ok(Self {
            sets,
            rounds,
            peer_name: peer_name.to_string(),
            peer_version: peer_version.to_string(),
        })
    }
}

/// Which SDK a scratch crate depends on, with which features.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Ours(Vec<String>),
    Peer(Vec<String>),
}

/// What one cold build cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub wall: Duration,
    /// Highest sum of resident memory over the cargo process tree, KiB.
    pub tree_peak_kib: u64,
    /// GNU time's maximum resident set size (largest single process), KiB.
    pub largest_process_kib: u64,
    /// User plus system CPU time over cargo and every process it waited for (GNU time's).
    pub cpu: Duration,
    /// The SDK's own packages rebuilt once every dependency is built.
    pub own: Rebuild,
    /// `cpu` less `own.cpu`: the dependencies' share of the cold build.
    pub dependencies_cpu: Duration,
}

/// Wall and CPU time of a build that compiles only some packages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rebuild {
    pub wall: Duration,
    pub cpu: Duration,
}

/// The median of each figure on its own over the rounds.
pub fn median_sample(samples: &[Sample]) -> Option<Sample> {
    let median_duration = |figure: fn(&Sample) -> Duration| {
        median(
            &samples
                .iter()
                .map(|s| figure(s).as_secs_f64())
                .collect::<Vec<_>>(),
        )
        .map(Duration::from_secs_f64)
    };
    Some(Sample {
        wall: median_duration(|s| s.wall)?,
        tree_peak_kib: median(
            &samples
                .iter()
                .map(|s| s.tree_peak_kib as f64)
                .collect::<Vec<_>>(),
        )? as u64,
        largest_process_kib: median(
            &samples
                .iter()
                .map(|s| s.largest_process_kib as f64)
                .collect::<Vec<_>>(),
        )? as u64,
        cpu: median_duration(|s| s.cpu)?,
        own: Rebuild {
            wall: median_duration(|s| s.own.wall)?,
            cpu: median_duration(|s| s.own.cpu)?,
        },
        dependencies_cpu: median_duration(|s| s.dependencies_cpu)?,
    })
}

/// The middle value; for an even count the mean of the two middle ones.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        len if len % 2 == 1 => sorted.get(middle).copied(),
        _ => Some((sorted.get(middle - 1)? + sorted.get(middle)?) / 2.0),
    }
}

pub fn run(root: &Path, args: &[&str]) -> Result<()> {
    let options = Options::parse(args)?;
    if !Path::new(GNU_TIME).exists() {
        return Err(format!(
            "bench-build needs GNU time at {GNU_TIME} (Debian: apt-get install time)"
        )
        .into());
    }
    let lock = root.join("Cargo.lock");
    let facade = root.join("crates/highlevel");
    let peer_dependency = |features: &[String]| {
        format!(
            "{} = {{ version = \"={}\", features = {} }}",
            options.peer_name,
            options.peer_version,
            toml_list(features)
        )
    };

    let subjects = build_order(&options.sets);
    let mut samples: BTreeMap<&Subject, Vec<Sample>> = BTreeMap::new();
    let mut operations: BTreeMap<&Subject, Option<usize>> = BTreeMap::new();
    for round in 1..=options.rounds {
        for subject in &subjects {
            let (label, dependency) = match subject {
                Subject::Ours(features) => (
                    format!("highlevel [{}]", features.join(",")),
                    format!(
                        "highlevel = {{ path = {}, features = {} }}",
                        toml_string(&facade.to_string_lossy()),
                        toml_list(features)
                    ),
                ),
                Subject::Peer(features) => (
                    format!("{} [{}]", options.peer_name, features.join(",")),
                    peer_dependency(features),
                ),
            };
            eprintln!("==> round {round}/{}: {label}", options.rounds);
            let scratch = Scratch::create(&dependency, &lock)?;
            scratch.fetch()?;
            let metadata = scratch.metadata()?;
            if !operations.contains_key(subject) {
                let count = match subject {
                    Subject::Ours(features) => Some(our_operations(root, features)?),
                    Subject::Peer(features) => {
                        peer_operations(&metadata, &options.peer_name, features)?
                    }
                };
                operations.insert(subject, count);
            }
            let sdk_name = match subject {
                Subject::Ours(_) => FACADE,
                Subject::Peer(_) => options.peer_name.as_str(),
            };
            let own = own_packages(&metadata, sdk_name);
            if !own
                .iter()
                .any(|spec| spec.starts_with(&format!("{sdk_name}@")))
            {
                return Err(
                    format!("bench-build: no {sdk_name} in the scratch crate's graph").into(),
                );
            }
            let sample = scratch.timed_build(&own)?;
            eprintln!(
                "    {label}: {}, CPU {}, peak {} summed, {} largest process; own crates {}, \
                 CPU {}",
                format_wall(sample.wall),
                format_wall(sample.cpu),
                format_memory(sample.tree_peak_kib),
                format_memory(sample.largest_process_kib),
                format_wall(sample.own.wall),
                format_wall(sample.own.cpu),
            );
            samples.entry(subject).or_default().push(sample);
        }
    }

    let mut rows = Vec::new();
    for set in &options.sets {
        let ours = Subject::Ours(set.ours.clone());
        let peer = set.peer.clone().map(Subject::Peer);
        let figures = |subject: &Subject| Figures {
            sample: samples.get(subject).and_then(|s| median_sample(s)),
            operations: operations.get(subject).copied().flatten(),
        };
        let round_ratios = match (
            samples.get(&ours),
            peer.as_ref().and_then(|p| samples.get(p)),
        ) {
            (Some(ours), Some(theirs)) => wall_ratios(ours, theirs),
            _ => Vec::new(),
        };
        rows.push(Row {
            ours_features: set.ours.join(","),
            peer_features: set.peer.as_ref().map(|f| f.join(",")),
            ours: figures(&ours),
            peer: peer.as_ref().map(figures),
            round_ratios,
        });
    }
    print!(
        "{}",
        format_table(
            &rows,
            &options.peer_name,
            &options.peer_version,
            options.rounds
        )
    );
    Ok(())
}

/// The builds of one round: each row's two builds one right after the other (this SDK's, then
/// the peer's), so the machine's slow and fast spells, which last minutes, fall alike on both
/// sides of a row's ratio; a build that several rows share (the peer's `full`) runs once, where
/// it first appears.
fn build_order(sets: &[FeatureSet]) -> Vec<Subject> {
    let mut order: Vec<Subject> = Vec::new();
    for set in sets {
        let ours = Subject::Ours(set.ours.clone());
        let peer = set.peer.clone().map(Subject::Peer);
        for subject in std::iter::once(ours).chain(peer) {
            if !order.contains(&subject) {
                order.push(subject);
            }
        }
    }
    order
}

/// A scratch binary crate in a temporary folder, deleted on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn create(dependency: &str, lock: &Path) -> Result<Self> {
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
    fn fetch(&self) -> Result<()> {
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
    fn timed_build(&self, own: &[String]) -> Result<Sample> {
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

    fn metadata(&self) -> Result<serde_json::Value> {
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

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

fn toml_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| toml_string(v)).collect();
    format!("[{}]", quoted.join(", "))
}

// ---- memory of a process tree, from /proc

/// Resident memory summed over `root` and all its descendants, KiB (0 once they are gone).
fn tree_rss_kib(root: u32) -> u64 {
    process_tree(root)
        .into_iter()
        .filter_map(|pid| {
            // A process may exit between the listing and the read: it is simply not counted.
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|status| parse_status_rss_kib(&status))
        })
        .sum()
}

/// `root` and every process below it, from the parent pids in `/proc/*/stat`.
fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(parent) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| parse_stat_parent(&stat))
        {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut tree = Vec::new();
    let mut pending = vec![root];
    while let Some(pid) = pending.pop() {
        tree.push(pid);
        pending.extend(children.get(&pid).into_iter().flatten());
    }
    tree
}

/// The parent pid from `/proc/PID/stat`: the second field after the command name, which is
/// in parentheses and may itself hold spaces and parentheses.
pub fn parse_stat_parent(stat: &str) -> Option<u32> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// `VmRSS` from `/proc/PID/status`, KiB (kernel threads and zombies have none).
pub fn parse_status_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// "Maximum resident set size (kbytes): N" from `time -v`.
pub fn parse_time_max_rss_kib(report: &str) -> Option<u64> {
    report
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes):")
        })
        .and_then(|kib| kib.trim().parse().ok())
}

/// "User time (seconds): U" plus "System time (seconds): S" from `time -v`.
pub fn parse_time_cpu(report: &str) -> Option<Duration> {
    let seconds = |label: &str| {
        report
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .filter(|value| value.is_finite() && *value >= 0.0)
    };
    let user = seconds("User time (seconds):")?;
    let system = seconds("System time (seconds):")?;
    Duration::try_from_secs_f64(user + system).ok()
}

// ---- operation counts

/// Operations the facade compiles with `features`: the module crates they enable (following
/// `full` and other feature lists), each counted in its generated `operations.rs`.
fn our_operations(root: &Path, features: &[String]) -> Result<usize> {
    let manifest_path = root.join("crates/highlevel/Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(&manifest_path)?.parse()?;
    let table = manifest
        .get("features")
        .and_then(toml::Value::as_table)
        .ok_or_else(|| format!("{} has no [features]", manifest_path.display()))?;
    let feature_map: BTreeMap<String, Vec<String>> = table
        .iter()
        .map(|(name, value)| {
            let entries = value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.as_str().map(String::from))
                .collect();
            (name.clone(), entries)
        })
        .collect();
    let mut total = 0;
    for dependency in enabled_dependencies(&feature_map, features) {
        let operations = root
            .join("crates")
            .join(&dependency)
            .join("src/operations.rs");
        if let Ok(source) = std::fs::read_to_string(&operations) {
            total += count_generated_operations(&source);
        }
    }
    Ok(total)
}

/// The optional dependencies (`dep:NAME`) that `features` turn on, through nested features.
pub fn enabled_dependencies(
    feature_map: &BTreeMap<String, Vec<String>>,
    features: &[String],
) -> BTreeSet<String> {
    enabled_features(feature_map, features)
        .iter()
        .filter_map(|feature| feature_map.get(feature))
        .flatten()
        .filter_map(|entry| entry.strip_prefix("dep:"))
        .map(String::from)
        .collect()
}

/// `features` and every feature of this crate they turn on (not `dep:` or `crate/feature`).
pub fn enabled_features(
    feature_map: &BTreeMap<String, Vec<String>>,
    features: &[String],
) -> BTreeSet<String> {
    let mut enabled = BTreeSet::new();
    let mut pending: Vec<String> = features.to_vec();
    while let Some(feature) = pending.pop() {
        if !enabled.insert(feature.clone()) {
            continue;
        }
        for entry in feature_map.get(&feature).into_iter().flatten() {
            if !entry.starts_with("dep:") && !entry.contains('/') {
                pending.push(entry.clone());
            }
        }
    }
    enabled
}

/// One `OperationMeta` per operation in a generated `operations.rs`.
pub fn count_generated_operations(source: &str) -> usize {
    source
        .lines()
        .filter(|line| line.trim_start().starts_with("operation_id: \""))
        .count()
}

/// Operations `ghl-sdk` compiles with `features`: one `pub async fn` per operation in
/// `src/services/<module>.rs` (v2) and `src/services/v3/<module>.rs` (v3) for each enabled
/// module feature. None for another peer, or a layout this does not know.
fn peer_operations(
    metadata: &serde_json::Value,
    peer: &str,
    features: &[String],
) -> Result<Option<usize>> {
    if peer != "ghl-sdk" {
        return Ok(None);
    }
    let Some(package) = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == peer)
    else {
        return Ok(None);
    };
    let feature_map: BTreeMap<String, Vec<String>> =
        serde_json::from_value(package["features"].clone())?;
    let Some(source_dir) = package["manifest_path"]
        .as_str()
        .and_then(|manifest| Path::new(manifest).parent())
        .map(|dir| dir.join("src/services"))
    else {
        return Ok(None);
    };
    let mut total = 0;
    let mut found_any = false;
    for feature in enabled_features(&feature_map, features) {
        let module = feature.replace('-', "_");
        for file in [
            source_dir.join(format!("{module}.rs")),
            source_dir.join("v3").join(format!("{module}.rs")),
        ] {
            if let Ok(source) = std::fs::read_to_string(&file) {
                found_any = true;
                total += count_async_methods(&source);
            }
        }
    }
    Ok(found_any.then_some(total))
}

pub fn count_async_methods(source: &str) -> usize {
    source
        .lines()
        .filter(|line| line.trim_start().starts_with("pub async fn "))
        .count()
}

// ---- the table

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub sample: Option<Sample>,
    pub operations: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub ours_features: String,
    pub peer_features: Option<String>,
    pub ours: Figures,
    pub peer: Option<Figures>,
    /// This SDK's wall time over the peer's, round by round: each pair was built one after
    /// the other, so a slow spell of the machine weighs on both sides of a ratio.
    pub round_ratios: Vec<f64>,
}

/// Round by round, this SDK's wall time over the peer's (rounds missing on either side and a
/// zero peer time are left out).
pub fn wall_ratios(ours: &[Sample], theirs: &[Sample]) -> Vec<f64> {
    ours.iter()
        .zip(theirs)
        .filter(|(_, theirs)| !theirs.wall.is_zero())
        .map(|(ours, theirs)| ours.wall.as_secs_f64() / theirs.wall.as_secs_f64())
        .collect()
}

pub fn format_table(rows: &[Row], peer_name: &str, peer_version: &str, rounds: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| features (this SDK / {peer_name} {peer_version}) | operations | this SDK: wall, peak | \
         {peer_name}: wall, peak | ratio (this SDK / {peer_name}): wall, peak | \
         s per operation (this SDK / {peer_name}) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    let dash = || "—".to_string();
    for row in rows {
        let peer = row.peer.as_ref();
        let operations = |figures: Option<&Figures>| {
            figures
                .and_then(|f| f.operations)
                .map_or_else(dash, |n| n.to_string())
        };
        let cost = |figures: Option<&Figures>| {
            figures.and_then(|f| f.sample).map_or_else(dash, |s| {
                format!(
                    "{}, {}",
                    format_wall(s.wall),
                    format_memory(s.tree_peak_kib)
                )
            })
        };
        let ratio = match (row.ours.sample, peer.and_then(|f| f.sample)) {
            (Some(ours), Some(theirs)) if !theirs.wall.is_zero() && theirs.tree_peak_kib > 0 => {
                format!(
                    "{:.2}×, {:.2}×",
                    ours.wall.as_secs_f64() / theirs.wall.as_secs_f64(),
                    ours.tree_peak_kib as f64 / theirs.tree_peak_kib as f64
                )
            }
            _ => dash(),
        };
        let per_operation = |figures: Option<&Figures>| {
            figures
                .and_then(|f| Some((f.sample?, f.operations.filter(|&n| n > 0)?)))
                .map_or_else(dash, |(s, n)| {
                    format!("{:.3}", s.wall.as_secs_f64() / n as f64)
                })
        };
        let _ = writeln!(
            out,
            "| `{}` / {} | {} / {} | {} | {} | {} | {} / {} |",
            row.ours_features,
            row.peer_features
                .as_ref()
                .map_or_else(dash, |f| format!("`{f}`")),
            operations(Some(&row.ours)),
            operations(peer),
            cost(Some(&row.ours)),
            cost(peer),
            ratio,
            per_operation(Some(&row.ours)),
            per_operation(peer),
        );
    }
    let _ = writeln!(
        out,
        "\nCold debug build of a binary using the SDK (empty target folder, registry already \
         downloaded, CARGO_INCREMENTAL=0){}. Peak: resident memory summed over cargo and all \
         its processes, sampled every 100 ms.\nLargest single process (GNU time's maximum \
         resident set size), this SDK / {peer_name}:",
        if rounds > 1 {
            format!("; median of {rounds} rounds")
        } else {
            String::new()
        }
    );
    for row in rows {
        let largest = |figures: Option<&Figures>| {
            figures
                .and_then(|f| f.sample)
                .map_or_else(dash, |s| format_memory(s.largest_process_kib))
        };
        let _ = writeln!(
            out,
            "- `{}`: {} / {}",
            row.ours_features,
            largest(Some(&row.ours)),
            largest(row.peer.as_ref())
        );
    }
    let _ = writeln!(
        out,
        "CPU time (user + system, over cargo and every compiler: the work done, whatever \
         the parallelism), this SDK / {peer_name}:"
    );
    for row in rows {
        let cpu = |figures: Option<&Figures>| figures.and_then(|f| f.sample).map(|s| s.cpu);
        let (ours, theirs) = (cpu(Some(&row.ours)), cpu(row.peer.as_ref()));
        let ratio = match (ours, theirs) {
            (Some(ours), Some(theirs)) if !theirs.is_zero() => {
                format!(" ({:.2}×)", ours.as_secs_f64() / theirs.as_secs_f64())
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "- `{}`: {} / {}{ratio}",
            row.ours_features,
            ours.map_or_else(dash, format_wall),
            theirs.map_or_else(dash, format_wall),
        );
    }
    let _ = writeln!(
        out,
        "Own crates (the SDK's packages, all from its repository, and the scratch binary) \
         rebuilt with every dependency built, wall and CPU; then the dependencies' CPU time \
         (the cold build's less that rebuild's), this SDK / {peer_name}:"
    );
    for row in rows {
        let sample = |figures: Option<&Figures>| figures.and_then(|f| f.sample);
        let (ours, theirs) = (sample(Some(&row.ours)), sample(row.peer.as_ref()));
        let own = |sample: Option<Sample>| {
            sample.map_or_else(dash, |s| {
                format!(
                    "{}, CPU {}",
                    format_wall(s.own.wall),
                    format_wall(s.own.cpu)
                )
            })
        };
        let dependencies =
            |sample: Option<Sample>| sample.map_or_else(dash, |s| format_wall(s.dependencies_cpu));
        let ratio = match (ours, theirs) {
            (Some(ours), Some(theirs)) if !theirs.dependencies_cpu.is_zero() => format!(
                " ({:.2}×)",
                ours.dependencies_cpu.as_secs_f64() / theirs.dependencies_cpu.as_secs_f64()
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "- `{}`: own {} / {}; dependencies {} / {}{ratio}",
            row.ours_features,
            own(ours),
            own(theirs),
            dependencies(ours),
            dependencies(theirs),
        );
    }
    if rows.iter().any(|row| row.round_ratios.len() > 1) {
        let _ = writeln!(
            out,
            "Wall time ratio round by round (this SDK / {peer_name}, each pair built one after \
             the other):"
        );
        for row in rows.iter().filter(|row| row.round_ratios.len() > 1) {
            let each: Vec<String> = row
                .round_ratios
                .iter()
                .map(|ratio| format!("{ratio:.2}"))
                .collect();
            let middle = median(&row.round_ratios).map_or_else(dash, |m| format!("{m:.2}"));
            let _ = writeln!(
                out,
                "- `{}`: {} (median {middle})",
                row.ours_features,
                each.join(", ")
            );
        }
    }
    out
}

/// `43.8 s`, `1 m 52.8 s`.
pub fn format_wall(wall: Duration) -> String {
    let tenths = (wall.as_secs_f64() * 10.0).round() as u64;
    let (minutes, tenths) = (tenths / 600, tenths % 600);
    let seconds = format!("{}.{} s", tenths / 10, tenths % 10);
    if minutes > 0 {
        format!("{minutes} m {seconds}")
    } else {
        seconds
    }
}

/// GiB with two decimals (`0.41 GiB`).
pub fn format_memory(kib: u64) -> String {
    format!("{:.2} GiB", kib as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seconds: f64, tree: u64, largest: u64) -> Sample {
        Sample {
            wall: Duration::from_secs_f64(seconds),
            tree_peak_kib: tree,
            largest_process_kib: largest,
            // Twice the wall time: a build that kept both cores busy.
            cpu: Duration::from_secs_f64(seconds * 2.0),
            // A tenth of the build is the SDK's own.
            own: Rebuild {
                wall: Duration::from_secs_f64(seconds / 10.0),
                cpu: Duration::from_secs_f64(seconds / 5.0),
            },
            dependencies_cpu: Duration::from_secs_f64(seconds * 1.8),
        }
    }

    #[test]
    fn ratios_pair_the_rounds_in_order() {
        let ours = [sample(40.0, 1, 1), sample(60.0, 1, 1), sample(45.0, 1, 1)];
        let theirs = [sample(50.0, 1, 1), sample(50.0, 1, 1)];
        assert_eq!(wall_ratios(&ours, &theirs), [0.8, 1.2]);
        assert_eq!(wall_ratios(&ours, &[sample(0.0, 1, 1)]), Vec::<f64>::new());
        assert_eq!(wall_ratios(&[], &theirs), Vec::<f64>::new());
    }

    #[test]
    fn median_of_odd_and_even_counts_and_of_nothing() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.5]), Some(7.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn median_sample_takes_each_figure_on_its_own() {
        let samples = [
            sample(10.0, 300, 9),
            sample(30.0, 100, 7),
            sample(20.0, 200, 8),
        ];
        // The round with the median wall time has neither median memory figure.
        assert_eq!(median_sample(&samples), Some(sample(20.0, 200, 8)));
        assert_eq!(median_sample(&[]), None);
    }

    #[test]
    fn reads_the_largest_process_from_gnu_time() {
        let report = "\tCommand being timed: \"cargo build --frozen\"\n\
                      \tUser time (seconds): 71.20\n\
                      \tElapsed (wall clock) time (h:mm:ss or m:ss): 0:43.80\n\
                      \tAverage resident set size (kbytes): 0\n\
                      \tMaximum resident set size (kbytes): 431256\n\
                      \tExit status: 0\n";
        assert_eq!(parse_time_max_rss_kib(report), Some(431_256));
        assert_eq!(parse_time_max_rss_kib("Exit status: 0\n"), None);
    }

    #[test]
    fn reads_user_plus_system_time_from_gnu_time() {
        let report = "\tCommand being timed: \"cargo build --frozen\"\n\
                      \tUser time (seconds): 71.20\n\
                      \tSystem time (seconds): 8.05\n\
                      \tPercent of CPU this job got: 181%\n";
        assert_eq!(parse_time_cpu(report), Some(Duration::from_secs_f64(79.25)));
        assert_eq!(parse_time_cpu("\tUser time (seconds): 71.20\n"), None);
        assert_eq!(
            parse_time_cpu("User time (seconds): -1\nSystem time (seconds): 2\n"),
            None
        );
        assert_eq!(
            parse_time_cpu("User time (seconds): lots\nSystem time (seconds): 2\n"),
            None
        );
        assert_eq!(
            parse_time_cpu("User time (seconds): 1e300\nSystem time (seconds): 1e300\n"),
            None,
            "too long for a Duration: no figure, and no panic"
        );
    }

    #[test]
    fn reads_parent_and_resident_memory_from_proc() {
        // A command name with a space and a closing parenthesis must not shift the fields.
        let stat = "4242 (rustc (x) y) R 4100 4242 4100 0 -1 4194304 1200 0 0 0";
        assert_eq!(parse_stat_parent(stat), Some(4100));
        assert_eq!(parse_stat_parent("garbage"), None);
        let status = "Name:\trustc\nState:\tR (running)\nVmPeak:\t  900000 kB\n\
                      VmRSS:\t  512345 kB\nThreads:\t4\n";
        assert_eq!(parse_status_rss_kib(status), Some(512_345));
        // Kernel threads have no VmRSS line.
        assert_eq!(parse_status_rss_kib("Name:\tkthreadd\nState:\tS\n"), None);
    }

    #[test]
    fn the_tree_sums_a_shell_and_the_sleep_under_it() {
        let rss = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|status| parse_status_rss_kib(&status))
        };
        // `; true` keeps the shell alive as the sleep's parent instead of exec'ing it.
        let mut shell = Command::new("sh")
            .args(["-c", "sleep 5; true"])
            .spawn()
            .expect("sh runs");
        let shell_pid = shell.id();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut tree = process_tree(shell_pid);
        while tree.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            tree = process_tree(shell_pid);
        }
        let summed = tree_rss_kib(shell_pid);
        let shell_alone = rss(shell_pid);
        let _ = shell.kill();
        let _ = shell.wait();
        assert_eq!(tree.len(), 2, "shell and sleep, got {tree:?}");
        let shell_alone = shell_alone.expect("the shell has a VmRSS");
        assert!(
            summed > shell_alone,
            "tree {summed} KiB, shell alone {shell_alone} KiB"
        );
        assert_eq!(tree_rss_kib(u32::MAX), 0);
    }

    #[test]
    fn feature_sets_name_the_peer_features_after_an_equals_sign() {
        let set = FeatureSet::parse("full,v3-full=full").expect("parses");
        assert_eq!(set.ours, ["full", "v3-full"]);
        assert_eq!(set.peer, Some(vec!["full".to_string()]));
        let same = FeatureSet::parse("contacts").expect("parses");
        assert_eq!(same.peer, Some(vec!["contacts".to_string()]));
        assert_eq!(FeatureSet::parse("contacts=").expect("parses").peer, None);
        assert!(FeatureSet::parse("=full").is_err());
    }

    #[test]
    fn options_default_to_three_sets_and_the_pinned_peer() {
        let options = Options::parse(&[]).expect("parses");
        assert_eq!(options.sets.len(), 3);
        assert_eq!(options.rounds, 1);
        assert_eq!(
            (options.peer_name.as_str(), options.peer_version.as_str()),
            ("ghl-sdk", "0.5.2")
        );
        let options = Options::parse(&[
            "--features",
            "contacts",
            "--rounds",
            "3",
            "--peer",
            "other@1.0",
        ])
        .expect("parses");
        assert_eq!(options.sets.len(), 1);
        assert_eq!(options.rounds, 3);
        assert_eq!(options.peer_name, "other");
        assert!(Options::parse(&["--rounds", "0"]).is_err());
        assert!(Options::parse(&["--rounds"]).is_err());
        assert!(Options::parse(&["--peer", "ghl-sdk"]).is_err());
        assert!(Options::parse(&["--fast"]).is_err());
    }

    #[test]
    fn features_expand_through_lists_to_optional_dependencies() {
        let map: BTreeMap<String, Vec<String>> = [
            ("full", vec!["contacts", "blogs"]),
            ("contacts", vec!["models", "dep:highlevel-contacts"]),
            ("blogs", vec!["dep:highlevel-blogs", "other-crate/blogs"]),
            ("models", vec!["dep:models"]),
            ("webhooks", vec!["dep:highlevel-webhooks"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
        let deps = enabled_dependencies(&map, &["full".to_string()]);
        assert_eq!(
            deps.into_iter().collect::<Vec<_>>(),
            ["highlevel-blogs", "highlevel-contacts", "models"]
        );
        let features = enabled_features(&map, &["contacts".to_string()]);
        assert_eq!(
            features.into_iter().collect::<Vec<_>>(),
            ["contacts", "models"]
        );
    }

    #[test]
    fn counts_operations_of_this_workspace() {
        let root = crate::workspace_root();
        let contacts = our_operations(&root, &["contacts".to_string()]).expect("counts");
        let full = our_operations(&root, &["full".to_string()]).expect("counts");
        let both =
            our_operations(&root, &["full".to_string(), "v3-full".to_string()]).expect("counts");
        assert!(
            contacts > 0 && contacts < full,
            "contacts {contacts}, full {full}"
        );
        assert!(both > full, "full {full}, with v3 {both}");
        assert_eq!(
            count_async_methods("    pub async fn a(\n    async fn b(\npub async fn c()"),
            2
        );
    }

    #[test]
    fn each_rows_two_builds_run_back_to_back_and_a_shared_build_once() {
        let sets = Options::parse(&[]).expect("parses").sets;
        let names = |features: &[&str]| features.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            build_order(&sets),
            [
                Subject::Ours(names(&["contacts"])),
                Subject::Peer(names(&["contacts"])),
                Subject::Ours(names(&["full"])),
                Subject::Peer(names(&["full"])),
                Subject::Ours(names(&["full", "v3-full"])),
            ]
        );
        let without_peer = [FeatureSet::parse("contacts=").expect("parses")];
        assert_eq!(
            build_order(&without_peer),
            [Subject::Ours(names(&["contacts"]))]
        );
    }

    #[test]
    fn own_packages_are_those_from_the_sdks_repository_and_the_scratch_crate() {
        let repository = "https://github.com/Shahroz/ghl-rs";
        let package = |name: &str, version: &str, repository: Option<&str>| {
            serde_json::json!({
                "name": name,
                "version": version,
                "id": format!("registry+https://example.test#{name}@{version}"),
                "repository": repository,
            })
        };
        let packages = [
            package(SCRATCH, "0.0.0", None),
            package("ghl-sdk", "0.5.2", Some(repository)),
            package("ghl-models", "0.5.2", Some(repository)),
            package("tokio", "1.54.1", Some("https://github.com/tokio-rs/tokio")),
            package("no-repository", "1.0.0", None),
            // In the lock but not built with these features.
            package("ghl-macros", "0.5.2", Some(repository)),
        ];
        let metadata = |packages: &[serde_json::Value]| {
            let built: Vec<serde_json::Value> = packages
                .iter()
                .filter(|p| p["name"] != "ghl-macros")
                .map(|p| serde_json::json!({ "id": p["id"] }))
                .collect();
            serde_json::json!({ "packages": packages, "resolve": { "nodes": built } })
        };
        assert_eq!(
            own_packages(&metadata(&packages), "ghl-sdk"),
            [
                "bench-build-scratch@0.0.0",
                "ghl-models@0.5.2",
                "ghl-sdk@0.5.2"
            ]
        );
        // An SDK published without a repository owns only itself: packages without one do
        // not all belong together.
        let mut lone = packages.clone();
        lone[1]["repository"] = serde_json::Value::Null;
        assert_eq!(
            own_packages(&metadata(&lone), "ghl-sdk"),
            ["bench-build-scratch@0.0.0", "ghl-sdk@0.5.2"]
        );
        assert_eq!(
            own_packages(&metadata(&packages), "absent"),
            ["bench-build-scratch@0.0.0"]
        );
        assert!(own_packages(&serde_json::json!({}), "ghl-sdk").is_empty());
    }

    #[test]
    fn table_shows_medians_ratios_and_seconds_per_operation() {
        let rows = [
            Row {
                ours_features: "contacts".into(),
                peer_features: Some("contacts".into()),
                ours: Figures {
                    sample: Some(sample(40.0, 1024 * 1024, 512 * 1024)),
                    operations: Some(32),
                },
                peer: Some(Figures {
                    sample: Some(sample(50.0, 2 * 1024 * 1024, 400 * 1024)),
                    operations: Some(63),
                }),
                round_ratios: vec![0.9, 0.7, 0.8],
            },
            Row {
                ours_features: "full".into(),
                peer_features: None,
                ours: Figures {
                    sample: Some(sample(112.8, 3 * 1024 * 1024, 1024 * 1024)),
                    operations: None,
                },
                peer: None,
                round_ratios: Vec::new(),
            },
        ];
        let table = format_table(&rows, "ghl-sdk", "0.5.2", 3);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("| features (this SDK / ghl-sdk 0.5.2) |"));
        assert_eq!(
            lines[2],
            "| `contacts` / `contacts` | 32 / 63 | 40.0 s, 1.00 GiB | 50.0 s, 2.00 GiB \
             | 0.80×, 0.50× | 1.250 / 0.794 |"
        );
        assert_eq!(
            lines[3],
            "| `full` / — | — / — | 1 m 52.8 s, 3.00 GiB | — | — | — / — |"
        );
        assert!(table.contains("median of 3 rounds"));
        assert!(table.contains("- `contacts`: 0.50 GiB / 0.39 GiB"));
        assert!(
            table.contains("- `contacts`: 1 m 20.0 s / 1 m 40.0 s (0.80×)"),
            "{table}"
        );
        assert!(table.contains("- `full`: 3 m 45.6 s / —\n"), "{table}");
        assert!(
            table.contains("- `contacts`: 0.90, 0.70, 0.80 (median 0.80)\n"),
            "{table}"
        );
        assert!(
            table.contains(
                "- `contacts`: own 4.0 s, CPU 8.0 s / 5.0 s, CPU 10.0 s; \
                 dependencies 1 m 12.0 s / 1 m 30.0 s (0.80×)\n"
            ),
            "{table}"
        );
        assert!(
            table.contains("- `full`: own 11.3 s, CPU 22.6 s / —; dependencies 3 m 23.0 s / —\n"),
            "{table}"
        );
        assert!(!table.contains("- `full`: (median"), "{table}");
        // One round: one ratio per row at most, and no median anywhere.
        let one_round = rows.map(|row| Row {
            round_ratios: row.round_ratios.into_iter().take(1).collect(),
            ..row
        });
        assert!(!format_table(&one_round, "ghl-sdk", "0.5.2", 1).contains("median"));
    }
}
