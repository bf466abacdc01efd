//! The table `bench-build` prints, and the lines under it.

use std::fmt::Write as _;
use std::time::Duration;

use super::figures::{Figures, Row, Sample, median};

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
