use std::process::Command;
use std::time::{Duration, Instant};

use super::figures::{Rebuild, median};
use super::operations::{count_async_methods, enabled_dependencies, enabled_features};
use super::readings::{
    parse_stat_parent, parse_status_rss_kib, parse_time_cpu, parse_time_max_rss_kib, process_tree,
    tree_rss_kib,
};
use super::scratch::SCRATCH;
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
    let both = our_operations(&root, &["full".to_string(), "v3-full".to_string()]).expect("counts");
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
