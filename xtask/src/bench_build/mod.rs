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

mod figures;
mod operations;
mod readings;
mod scratch;
mod table;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use crate::Result;

use figures::{Figures, Row, Sample, median_sample, wall_ratios};
use operations::{our_operations, peer_operations};
use scratch::{GNU_TIME, Scratch, own_packages, toml_list, toml_string};
use table::{format_memory, format_table, format_wall};

const DEFAULT_PEER: &str = "ghl-sdk@0.5.2";
/// This SDK's crate as a user names it in `[dependencies]`.
const FACADE: &str = "highlevel";
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
