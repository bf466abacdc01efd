//! `cargo bench -p highlevel-sandbox --bench pagination`: reading 100,000 contacts from the
//! sandbox program (its own process, rate limits off) with the generated `.stream()` and
//! `.pages()`, against a plain loop that follows `meta.startAfterId` / `meta.startAfter` by
//! hand with the same builder; and how much memory the client's peak grows while streaming
//! 10,000 and 100,000 contacts. Prints tables; asserts only that every contact was read.
//!
//! Memory is this process's peak resident set (`VmHWM`), reset before each walk through
//! `/proc/self/clear_refs`, minus the resident set at its start: the growth one walk causes.

use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, TryStreamExt as _};
use highlevel::{HighLevel, RateLimitConfig};

mod support;

const CONTACTS: usize = 100_000;
const PAGE: u64 = 100;
const ROUNDS: usize = 9;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let seeded = CONTACTS.to_string();
    let program =
        support::SandboxProgram::start(&["--no-rate-limits", "--seed-contacts", &seeded]).await;
    let hl = HighLevel::builder()
        .private_integration_token(highlevel_sandbox::DEFAULT_TOKEN)
        .base_url(&program.url)
        .rate_limit(RateLimitConfig::disabled())
        .build()
        .expect("handle");
    // First, in a fresh process: the first walk's growth includes the connection pool.
    println!("\n| walk | contacts | peak resident set | growth over the walk's start |");
    println!("|---|---|---|---|");
    for (name, walk, count) in [
        (".stream()", Walk::Stream { prefetch: 0 }, 10_000),
        (".stream()", Walk::Stream { prefetch: 0 }, CONTACTS),
        ("plain loop", Walk::Plain, CONTACTS),
        (".stream() collected into a Vec", Walk::Collect, CONTACTS),
    ] {
        let before = reset_peak();
        assert_eq!(walk.run(&hl, count).await, count);
        let peak = peak_kib();
        println!(
            "| {name} | {count} | {:.1} MiB | {:.1} MiB |",
            peak as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0
        );
    }

    // One untimed walk warms the connection pool and the sandbox's allocator.
    assert_eq!(plain_loop(&hl, CONTACTS).await, CONTACTS);

    // This machine's noise (two cores shared with the sandbox program) is larger than the
    // differences measured: every round runs each way once, in a rotating order, and each
    // way is compared with the plain loop of its own round.
    let ways = [
        ("plain loop (send + cursor by hand)", Walk::Plain),
        (".stream()", Walk::Stream { prefetch: 0 }),
        (".pages()", Walk::Pages),
        (".stream().prefetch(1)", Walk::Stream { prefetch: 1 }),
    ];
    let mut walls = vec![Vec::new(); ways.len()];
    for round in 0..ROUNDS {
        for k in 0..ways.len() {
            let i = (round + k) % ways.len();
            let started = Instant::now();
            assert_eq!(ways[i].1.run(&hl, CONTACTS).await, CONTACTS);
            walls[i].push(started.elapsed());
        }
    }
    println!(
        "\n{CONTACTS} contacts, pages of {PAGE}, client on one thread, {ROUNDS} rounds \
         (medians; ratio: the plain loop's wall over this way's, same round)\n"
    );
    println!("| read with | contacts/s | wall | vs plain loop | ratio range |");
    println!("|---|---|---|---|---|");
    for (i, (name, _)) in ways.iter().enumerate() {
        let mut ratios: Vec<f64> = walls[0]
            .iter()
            .zip(&walls[i])
            .map(|(plain, this)| plain.as_secs_f64() / this.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        let wall = median(&walls[i]);
        println!(
            "| {name} | {:.0} | {:.2} s | {:.2} | {:.2}–{:.2} |",
            CONTACTS as f64 / wall.as_secs_f64(),
            wall.as_secs_f64(),
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Walk {
    Plain,
    Stream { prefetch: usize },
    Pages,
    Collect,
}

impl Walk {
    /// Reads the first `count` contacts; returns how many it read.
    // `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
    // the simplest authenticated list call, which is all this needs.
    #[allow(deprecated)]
    async fn run(self, hl: &HighLevel, count: usize) -> usize {
        let contacts = hl.contacts();
        let request = || {
            contacts
                .get_contacts()
                .location_id(highlevel_sandbox::DEFAULT_LOCATION_ID)
        };
        match self {
            Walk::Plain => plain_loop(hl, count).await,
            Walk::Stream { prefetch } => {
                let mut stream = request()
                    .stream()
                    .page_size(PAGE)
                    .prefetch(prefetch)
                    .take(count);
                let mut read = 0;
                while let Some(contact) = stream.next().await {
                    let contact = contact.expect("contact");
                    read += usize::from(contact.id.is_some());
                }
                read
            }
            Walk::Pages => {
                let mut pages = request().pages().page_size(PAGE);
                let mut read = 0;
                while let Some(page) = pages.try_next().await.expect("page") {
                    read += page.contacts.as_ref().map_or(0, Vec::len);
                    if read >= count {
                        break;
                    }
                }
                read.min(count)
            }
            Walk::Collect => {
                let all: Vec<_> = request()
                    .stream()
                    .page_size(PAGE)
                    .take(count)
                    .try_collect()
                    .await
                    .expect("contacts");
                all.len()
            }
        }
    }
}

/// What a caller writes without the helpers: send, read `meta`, set the cursor, repeat.
// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
async fn plain_loop(hl: &HighLevel, count: usize) -> usize {
    let contacts = hl.contacts();
    let mut cursor: Option<(f64, String)> = None;
    let mut read = 0;
    loop {
        let mut request = contacts
            .get_contacts()
            .location_id(highlevel_sandbox::DEFAULT_LOCATION_ID)
            .limit(PAGE as i64);
        if let Some((at, id)) = &cursor {
            request = request.start_after(*at as i64).start_after_id(id.as_str());
        }
        let page = request.send().await.expect("page").into_inner();
        let items = page.contacts.unwrap_or_default();
        read += items.iter().filter(|c| c.id.is_some()).count();
        let meta = page.meta.unwrap_or_default();
        cursor = match (meta.start_after, meta.start_after_id) {
            (Some(at), Some(id)) if !items.is_empty() && read < count => Some((at, id)),
            _ => return read.min(count),
        };
    }
}

fn median(walls: &[Duration]) -> Duration {
    let mut sorted = walls.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// Resets the peak resident set to the current one; returns the current one (KiB).
fn reset_peak() -> u64 {
    // Writing 5 resets VmHWM (Linux 4.0+); without it the growth reads as an upper bound.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:")
}

fn peak_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
