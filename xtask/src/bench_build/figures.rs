//! What one build cost, and the medians over the rounds.

use std::time::Duration;

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
    let median_of =
        |figure: fn(&Sample) -> f64| median(&samples.iter().map(figure).collect::<Vec<_>>());
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
        tree_peak_kib: median_of(|s| s.tree_peak_kib as f64)? as u64,
        largest_process_kib: median_of(|s| s.largest_process_kib as f64)? as u64,
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
