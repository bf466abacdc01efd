//! The project's build tasks: `cargo xtask <command>`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench_build;
mod codegen;
mod config;
mod conformance;
mod migration;
mod openapi;
mod pagination;
mod repair;
mod scopes;
mod services;
mod spec_diff;
mod specs;
mod test_cmd;
mod webhook_events;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "\
usage: cargo xtask <command>

  specs fetch [--from DIR]          fill specs/.cache with the pinned files (downloaded from
                                    upstream, or copied from DIR), each checked against its hash
  specs pin <COMMIT> --from DIR     move the pin to COMMIT (files in DIR), print what changed
  codegen [--check]                 regenerate crates/ from the cached specs; --check only
                                    compares and names every file that differs
  test [--spec-copies DIR]          everything CI runs: fetch, codegen --check, fmt, clippy,
                                    each module feature compiled alone, tests, cargo
                                    package of every publishable crate, the quickstart, the
                                    conformance suite, the token and webhook
                                    stores, and 30 s of fuzzing; DIR holds upstream trees
                                    named by commit (else the pinned files are downloaded)
  fuzz [SECONDS]                    the webhooks' verify_and_parse fuzz target (default 60 s)
  conformance                       only the conformance suite: install Prism, merge the
                                    cached specs, call every operation against it
  services                          start Redis and PostgreSQL on loopback (apt-installed
                                    when missing), print their URLs, stop on Enter
  bench-build [--features OURS[=PEER]]... [--rounds N] [--peer NAME@VERSION]
                                    a user's first debug build (empty target dir, registry
                                    fetched beforehand) of a scratch binary using this SDK
                                    with features OURS, and one using the peer (default
                                    ghl-sdk@0.5.2) with PEER (default the same names; none
                                    after `=`: no peer build); prints wall time, peak memory
                                    and seconds per operation as a markdown table, medians
                                    of N rounds (default 1), then CPU time, each round's
                                    ratio, and what the SDK's own crates cost against its
                                    dependencies. Default sets: `contacts`, `full`,
                                    `full,v3-full=full`
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[&str]) -> Result<ExitCode> {
    let root = workspace_root();
    match args {
        ["specs", "fetch"] => {
            specs::fetch(&config::Project::load(&root)?, &specs::Source::Upstream)?;
        }
        ["specs", "fetch", "--from", dir] => {
            let source = specs::Source::Dir(PathBuf::from(dir));
            specs::fetch(&config::Project::load(&root)?, &source)?;
        }
        ["specs", "pin", commit, "--from", dir] => {
            let report = specs::pin(
                &config::Project::load_tables(&root)?,
                commit,
                Path::new(dir),
            )?;
            for (set, diff) in report {
                if diff.is_empty() {
                    println!("set {set}: no operation changed");
                } else {
                    println!("set {set}:");
                    print!("{diff}");
                }
            }
            eprintln!("specs pin: now regenerate with `cargo xtask codegen`");
        }
        ["codegen"] => {
            codegen::run(&config::Project::load(&root)?, codegen::Mode::Write)?;
        }
        ["codegen", "--check"] => {
            let differing = codegen::run(&config::Project::load(&root)?, codegen::Mode::Check)?;
            if !differing.is_empty() {
                eprintln!(
                    "codegen --check: {} generated files differ from the pinned specs:",
                    differing.len()
                );
                for path in differing {
                    eprintln!("  {path}");
                }
                eprintln!("run `cargo xtask codegen` and commit the result");
                return Ok(ExitCode::FAILURE);
            }
        }
        ["conformance"] => {
            let project = config::Project::load(&root)?;
            let (_, failed) = test_cmd::conformance(&root, &project)?;
            if failed > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        ["services"] => {
            services::ensure_installed()?;
            let running = services::start()?;
            println!("HIGHLEVEL_TEST_REDIS_URL={}", running.redis_url());
            println!("HIGHLEVEL_TEST_POSTGRES_URL={}", running.postgres_url());
            eprintln!("Enter (or end of input) stops both.");
            let _ = std::io::stdin().read_line(&mut String::new());
        }
        ["fuzz"] => test_cmd::fuzz(&root, 60)?,
        ["fuzz", seconds] => {
            let seconds = seconds
                .parse()
                .map_err(|_| format!("fuzz: `{seconds}` is not a number of seconds"))?;
            test_cmd::fuzz(&root, seconds)?;
        }
        ["test"] => test_cmd::run(&root, None)?,
        ["test", "--spec-copies", dir] => test_cmd::run(&root, Some(Path::new(dir)))?,
        ["bench-build", rest @ ..] => bench_build::run(&root, rest)?,
        ["help" | "--help" | "-h"] | [] => print!("{USAGE}"),
        _ => {
            eprint!("unknown command: {}\n\n{USAGE}", args.join(" "));
            return Ok(ExitCode::from(2));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}
