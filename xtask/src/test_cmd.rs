//! `cargo xtask test`: the one command CI runs (`.ci/run`), from a fresh clone to green.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::Result;
use crate::codegen;
use crate::config::Project;
use crate::conformance;
use crate::specs::{self, Source};

mod package;

/// The workspace's crates that codegen does not write (every package under `crates/`, and
/// `tests` and `xtask`, less the module crates of the sets' tables): formatted with rustfmt
/// and held to clippy's warnings. A new hand-written crate is picked up by being there.
fn hand_written(root: &Path, project: &Project) -> Result<Vec<String>> {
    let generated: std::collections::BTreeSet<&str> = project
        .generated_modules()
        .map(|m| m.crate_name.as_str())
        .collect();
    let mut manifests = vec![root.join("xtask/Cargo.toml"), root.join("tests/Cargo.toml")];
    let mut folders: Vec<_> = std::fs::read_dir(root.join("crates"))?
        .map(|entry| entry.map(|e| e.path().join("Cargo.toml")))
        .collect::<std::io::Result<_>>()?;
    folders.sort();
    manifests.extend(folders.into_iter().filter(|m| m.is_file()));
    let mut names = Vec::new();
    for manifest in manifests {
        let text = std::fs::read_to_string(&manifest)?;
        let name = package_name(&text)
            .ok_or_else(|| format!("{}: no [package] name", manifest.display()))?;
        if !generated.contains(name.as_str()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn package_name(manifest: &str) -> Option<String> {
    let value: toml::Value = toml::from_str(manifest).ok()?;
    Some(value.get("package")?.get("name")?.as_str()?.to_owned())
}

/// `cargo <command> -p <crate>…` over the hand-written crates.
fn over_hand_written<'a>(command: &[&'a str], crates: &'a [String]) -> Vec<&'a str> {
    let mut args = command.to_vec();
    for krate in crates {
        args.extend(["-p", krate.as_str()]);
    }
    args
}

/// `spec_copies`: a folder of upstream trees named by commit (as CI has them); the pinned
/// commit's files come from there, and the xtask's tests that compare other commits find
/// theirs there. Without it the pinned files are downloaded and those tests fail.
pub fn run(root: &Path, spec_copies: Option<&Path>) -> Result<()> {
    let started = Instant::now();
    let project = Project::load(root)?;
    // Absolute: the tests run in their crates' folders, not here.
    let spec_copies = spec_copies
        .map(|dir| {
            dir.canonicalize()
                .map_err(|e| format!("--spec-copies {}: {e}", dir.display()))
        })
        .transpose()?;
    let spec_copies = spec_copies.as_deref();

    step("spec cache", || {
        let source = match spec_copies {
            Some(dir) => Source::Dir(dir.join(&project.pin.commit)),
            None => Source::Upstream,
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
    let hand_written = hand_written(root, &project)?;
    step("rustfmt (hand-written crates)", || {
        cargo(root, &over_hand_written(&["fmt", "--check"], &hand_written))
    })?;
    step("clippy -D warnings (hand-written crates)", || {
        let mut args = over_hand_written(
            &["clippy", "--all-targets", "--all-features"],
            &hand_written,
        );
        args.extend(["--", "-D", "warnings"]);
        cargo(root, &args)
    })?;
    step(
        "each module feature compiles alone, and each set's `full`",
        || {
            let mut features: Vec<&str> = project
                .generated_modules()
                .map(|m| m.feature.as_str())
                .collect();
            features.extend(project.generated_sets().map(|s| s.full_feature.as_str()));
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
        },
    )?;
    // Generated crates hold no tests of their own (their behaviour is tested through the facade
    // in `tests/`), so building their empty test harnesses is skipped.
    let mut counts = (0, 0);
    step("tests", || {
        let args = over_hand_written(&["test"], &hand_written);
        let copies = spec_copies.map(Path::as_os_str).unwrap_or_default();
        counts = cargo_test_with_env(root, &args, &[(specs::SPEC_COPIES_ENV, copies)])?;
        Ok(())
    })?;
    step("cargo package: every publishable crate", || {
        package::run(root, &project)
    })?;
    step("quickstart (README command 1) against the sandbox", || {
        cargo(root, &["run", "--quiet", "--example", "quickstart"])
    })?;
    step("conformance: every operation against Prism", || {
        let (passed, failed) = conformance(root, &project)?;
        counts.0 += passed;
        counts.1 += failed;
        Ok(())
    })?;
    step(
        "token and webhook seen-stores against Redis and PostgreSQL on loopback",
        || {
            let (passed, failed) = token_stores(root, &project)?;
            counts.0 += passed;
            counts.1 += failed;
            Ok(())
        },
    )?;
    step(
        "fuzz: verify_and_parse for 30 s (cargo-fuzz, libFuzzer)",
        || fuzz(root, FUZZ_SECONDS),
    )?;
    eprintln!(
        "xtask test: all steps passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // One closing line for CI, summed over every test binary cargo ran.
    println!("tests: {} passed, {} failed", counts.0, counts.1);
    Ok(())
}

/// How long CI fuzzes the webhook verification and event parsing.
const FUZZ_SECONDS: u32 = 30;
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Runs the webhooks crate's `verify_and_parse` fuzz target for `seconds`: installs
/// cargo-fuzz from crates.io when missing; uses a nightly toolchain when rustup has one,
/// else stable with `-s none` (no sanitizer) and `RUSTC_BOOTSTRAP=1` for libFuzzer's flags.
/// A crash fails the step, and its input is left in `crates/highlevel-webhooks/fuzz/artifacts/`.
pub fn fuzz(root: &Path, seconds: u32) -> Result<()> {
    let quiet = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !quiet("cargo", &["fuzz", "--version"]) {
        eprintln!("    installing cargo-fuzz {CARGO_FUZZ_VERSION} from crates.io");
        let status = Command::new("cargo")
            .args([
                "install",
                "cargo-fuzz",
                "--locked",
                "--version",
                CARGO_FUZZ_VERSION,
            ])
            .status()
            .map_err(|e| format!("cannot run cargo install: {e}"))?;
        if !status.success() {
            return Err(format!("`cargo install cargo-fuzz` failed ({status})").into());
        }
    }
    let budget = format!("-max_total_time={seconds}");
    let dir = root.join("crates/highlevel-webhooks");
    let nightly = quiet("rustup", &["run", "nightly", "rustc", "--version"]);
    let mut command = if nightly {
        let mut command = Command::new("rustup");
        command.args(["run", "nightly", "cargo", "fuzz", "run", "verify_and_parse"]);
        command
    } else {
        eprintln!("    no nightly toolchain: fuzzing on stable without a sanitizer");
        let mut command = Command::new("cargo");
        command
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "-s", "none", "verify_and_parse"]);
        command
    };
    let status = command
        .args(["--", &budget])
        .current_dir(&dir)
        // The fuzz crate is its own workspace with its own toolchain flags.
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the fuzz target failed ({status}); the input is in crates/highlevel-webhooks/fuzz/artifacts/"
        )
        .into())
    }
}

/// Installs Prism, writes every generated set's merged spec and runs the conformance suite
/// (ignored by plain `cargo test`, which has neither), printing a table per set.
pub fn conformance(root: &Path, project: &Project) -> Result<(u64, u64)> {
    let prism = conformance::setup::install_prism(root)?;
    let mut specs = None;
    for set in project.generated_sets() {
        let spec = conformance::setup::write_merged_spec(project, set)?;
        specs = spec.parent().map(Path::to_path_buf);
    }
    let specs = specs.ok_or("specs/sets.toml: no set has `generate = true`")?;
    ignored_tests(
        root,
        project,
        &["conformance"],
        &[
            ("HIGHLEVEL_PRISM", prism.as_os_str()),
            ("HIGHLEVEL_CONFORMANCE_SPECS", specs.as_os_str()),
        ],
    )
}

/// The one test binary of `highlevel-tests`: a module per subject (`tests/tests/main.rs`).
const INTEGRATION_TESTS: &str = "integration";

/// Runs, in one `cargo test`, the ignored tests of the `highlevel-tests` modules named (those
/// needing an outside server that `env` points them at), with their output.
fn ignored_tests(
    root: &Path,
    project: &Project,
    modules: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<(u64, u64)> {
    // The same packages as the tests step: a narrower selection unifies other features of
    // tokio, reqwest and hyper, and rebuilt all 83 module crates (about 5 minutes here).
    let crates = hand_written(root, project)?;
    let filters = module_filters(modules);
    let mut args = over_hand_written(&["test"], &crates);
    args.extend([
        "--test",
        INTEGRATION_TESTS,
        "--",
        "--ignored",
        "--nocapture",
    ]);
    args.extend(filters.iter().map(String::as_str));
    cargo_test_with_env(root, &args, env)
}

/// libtest filters selecting the tests of top-level `modules` of the integration binary: a
/// filter matches anywhere in a test's path, so each is anchored on the `::` after the module.
fn module_filters(modules: &[&str]) -> Vec<String> {
    modules.iter().map(|module| format!("{module}::")).collect()
}

/// Installs (apt, when missing) and starts Redis and PostgreSQL, and runs the token store,
/// webhook seen-store, pending-install and shared rate-limit budget tests that need them
/// (ignored by plain `cargo test`).
fn token_stores(root: &Path, project: &Project) -> Result<(u64, u64)> {
    crate::services::ensure_installed()?;
    let services = crate::services::start()?;
    let redis = services.redis_url();
    let postgres = services.postgres_url();
    let env = [
        ("HIGHLEVEL_TEST_REDIS_URL", redis.as_ref()),
        ("HIGHLEVEL_TEST_POSTGRES_URL", postgres.as_ref()),
        (
            "HIGHLEVEL_TEST_POSTGRES_BIN",
            services.postgres_bin().as_os_str(),
        ),
    ];
    ignored_tests(
        root,
        project,
        &[
            "token_stores",
            "webhook_stores",
            "webhook_installs",
            "store_tls",
            "store_faults",
            "shared_budget",
        ],
        &env,
    )
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("==> {name}");
    let started = Instant::now();
    f().map_err(|e| format!("{name}: {e}"))?;
    eprintln!("    {name}: ok in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs `cargo test` with `env`, echoing its output, and sums its `test result:` lines.
fn cargo_test_with_env(
    root: &Path,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut totals = (0, 0);
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::io::Result::ok)
        {
            println!("{line}");
            if let Some((passed, failed)) = test_result_counts(&line) {
                totals.0 += passed;
                totals.1 += failed;
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    if status.success() {
        Ok(totals)
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")).into())
    }
}

/// `test result: ok. 12 passed; 0 failed; ...` -> (12, 0).
fn test_result_counts(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let number_before = |word: &str| {
        rest.split(';')
            .find_map(|part| {
                part.trim()
                    .trim_start_matches("ok. ")
                    .trim_start_matches("FAILED. ")
                    .strip_suffix(word)
            })
            .and_then(|n| n.trim().parse::<u64>().ok())
    };
    Some((number_before(" passed")?, number_before(" failed")?))
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

#[cfg(test)]
mod tests {
    /// Derived from the tables, the list is today's six hand-written crates, with no module
    /// crate among them.
    #[test]
    fn hand_written_crates_are_every_package_the_module_tables_do_not_name() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let project = crate::config::Project::load(&root).expect("project");
        let crates = super::hand_written(&root, &project).expect("manifests");
        assert_eq!(
            crates,
            [
                "highlevel",
                "highlevel-runtime",
                "highlevel-sandbox",
                "highlevel-tests",
                "highlevel-webhooks",
                "xtask"
            ]
        );
        assert!(
            project
                .generated_modules()
                .all(|m| !crates.contains(&m.crate_name))
        );
    }

    #[test]
    fn a_package_name_is_read_from_its_manifest() {
        assert_eq!(
            super::package_name("[package]\nname = \"highlevel-x\"\nversion = \"1.0.0\"\n"),
            Some("highlevel-x".into())
        );
        assert_eq!(super::package_name("[workspace]\nmembers = []\n"), None);
        assert_eq!(super::package_name("not toml ["), None);
    }

    #[test]
    fn module_filters_end_on_the_path_separator() {
        assert_eq!(
            super::module_filters(&["store_tls", "store_faults"]),
            ["store_tls::", "store_faults::"]
        );
    }

    #[test]
    fn test_result_lines_are_counted() {
        assert_eq!(
            super::test_result_counts(
                "test result: ok. 48 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 3.19s"
            ),
            Some((48, 0))
        );
        assert_eq!(
            super::test_result_counts("test result: FAILED. 67 passed; 2 failed; 0 ignored"),
            Some((67, 2))
        );
        assert_eq!(super::test_result_counts("running 3 tests"), None);
    }
}
