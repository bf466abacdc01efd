//! What a build is measured with: resident memory of its process tree from `/proc`, and
//! CPU time and the largest process from GNU time's report.

use std::collections::HashMap;
use std::time::Duration;

/// Resident memory summed over `root` and all its descendants, KiB (0 once they are gone).
pub(super) fn tree_rss_kib(root: u32) -> u64 {
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
pub(super) fn process_tree(root: u32) -> Vec<u32> {
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
