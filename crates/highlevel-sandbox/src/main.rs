//! `highlevel-sandbox [--port N] [--token T] [--location-id L] [--client-id C]
//! [--client-secret S] [--installed-locations N] [--rate-limit MAX/MS] [--daily-limit N]
//! [--no-rate-limits] [--redis-url URL] [--seed-contacts N] [--webhook-url URL]`: the sandbox
//! as a program, for trying the SDK (or curl) against it. Stops on Ctrl-C.
//!
//! `--redis-url` (feature `redis`) keeps the per-location rate-limit counts in Redis, so that
//! several sandbox processes (or one restarted) count each location's requests together.

use std::process::ExitCode;

use highlevel_sandbox::Sandbox;

const USAGE: &str = "usage: highlevel-sandbox [--port N] [--token TOKEN] [--location-id ID] \
                     [--client-id ID] [--client-secret SECRET] [--installed-locations N] \
                     [--rate-limit MAX/MILLISECONDS] [--daily-limit N] [--no-rate-limits] \
                     [--redis-url URL] [--seed-contacts N] [--webhook-url URL]\n\
                     --redis-url URL: count each location's requests in this Redis, together \
                     with every sandbox given the same URL (needs feature `redis`)";

fn parse(args: &[String]) -> Result<Sandbox, String> {
    let mut sandbox = Sandbox::builder();
    let mut client_id = highlevel_sandbox::DEFAULT_CLIENT_ID.to_owned();
    let mut client_secret = highlevel_sandbox::DEFAULT_CLIENT_SECRET.to_owned();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        sandbox = match flag.as_str() {
            "--port" => {
                let text = value()?;
                let port = text
                    .parse()
                    .map_err(|_| format!("--port: `{text}` is not a port number\n{USAGE}"))?;
                sandbox.port(port)
            }
            "--token" => sandbox.token(value()?),
            "--location-id" => sandbox.location_id(value()?),
            "--client-id" => {
                client_id = value()?;
                sandbox
            }
            "--client-secret" => {
                client_secret = value()?;
                sandbox
            }
            "--installed-locations" => {
                let text = value()?;
                let count = text.parse().map_err(|_| {
                    format!("--installed-locations: `{text}` is not a count\n{USAGE}")
                })?;
                sandbox.installed_locations(count)
            }
            "--seed-contacts" => {
                let text = value()?;
                let count = text
                    .parse()
                    .map_err(|_| format!("--seed-contacts: `{text}` is not a count\n{USAGE}"))?;
                sandbox.seeded_contacts(count)
            }
            "--rate-limit" => {
                let text = value()?;
                let (max, ms) = text
                    .split_once('/')
                    .and_then(|(max, ms)| Some((max.parse().ok()?, ms.parse().ok()?)))
                    .filter(|(max, ms): &(u32, u64)| *max > 0 && *ms > 0)
                    .ok_or_else(|| {
                        format!(
                            "--rate-limit: `{text}` is not MAX/MILLISECONDS (e.g. 20/1000)\n{USAGE}"
                        )
                    })?;
                sandbox.rate_limit(max, std::time::Duration::from_millis(ms))
            }
            "--daily-limit" => {
                let text = value()?;
                let max = text
                    .parse()
                    .map_err(|_| format!("--daily-limit: `{text}` is not a count\n{USAGE}"))?;
                sandbox.daily_limit(max)
            }
            "--no-rate-limits" => sandbox.without_rate_limits(),
            "--redis-url" => {
                let text = value()?;
                if !url::Url::parse(&text).is_ok_and(|u| matches!(u.scheme(), "redis" | "rediss")) {
                    // Not echoed: a Redis URL may carry a password.
                    return Err(format!(
                        "--redis-url: not a redis:// or rediss:// URL\n{USAGE}"
                    ));
                }
                shared_rate_limits(sandbox, text)?
            }
            "--webhook-url" => {
                let text = value()?;
                // Checked here too, so that a typo is a usage error and not a failed start.
                if !url::Url::parse(&text).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                    return Err(format!(
                        "--webhook-url: `{text}` is not an absolute http(s) URL\n{USAGE}"
                    ));
                }
                sandbox.webhook_url(text)
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        };
    }
    Ok(sandbox.oauth_client(client_id, client_secret))
}

#[cfg(feature = "redis")]
fn shared_rate_limits(sandbox: Sandbox, url: String) -> Result<Sandbox, String> {
    Ok(sandbox.shared_rate_limits(url))
}

#[cfg(not(feature = "redis"))]
fn shared_rate_limits(_: Sandbox, _: String) -> Result<Sandbox, String> {
    Err(
        "--redis-url: this sandbox was built without feature `redis` \
         (cargo run -p highlevel-sandbox --features redis -- ...)"
            .into(),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let own_token = args.iter().any(|a| a == "--token");
    let own_secret = args.iter().any(|a| a == "--client-secret");
    let sandbox = match parse(&args) {
        Ok(sandbox) => sandbox,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let webhook_url = args
        .iter()
        .rposition(|a| a == "--webhook-url")
        .and_then(|at| args.get(at + 1))
        .cloned();
    let running = match sandbox.serve().await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("highlevel-sandbox: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("HighLevel sandbox listening on {}", running.url());
    if own_token {
        println!("  token:       the one given with --token");
    } else {
        println!("  token:       {}", running.token());
    }
    println!(
        "  webhook public key (Ed25519): {}",
        running.webhook_public_key()
    );
    match &webhook_url {
        Some(url) => println!("  webhooks delivered to: {url}"),
        None => println!("  webhooks: none delivered (--webhook-url URL to receive them)"),
    }
    println!("  location id: {}", running.location_id());
    println!("  OAuth client id: {}", running.client_id());
    if own_secret {
        println!("  OAuth client secret: the one given with --client-secret");
    } else {
        println!("  OAuth client secret: {}", running.client_secret());
    }
    println!("  agency (company) id: {}", running.company_id());
    println!(
        "  app installed in: {} location(s)",
        running.installed_location_ids().len()
    );
    if args.iter().any(|a| a == "--redis-url") {
        println!("  rate-limit counts: in Redis, shared with every sandbox given that URL");
    }
    println!("Ctrl-C stops it.");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("highlevel-sandbox: cannot wait for Ctrl-C: {e}");
    }
    if webhook_url.is_some() {
        // The program installs no log subscriber: the counts are how failures show.
        let stats = running.webhook_stats();
        println!(
            "webhooks: {} delivered, {} failed",
            stats.delivered, stats.failed
        );
    }
    running.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn the_redis_url_must_be_one() {
        let error = parse(&args(&["--redis-url", "http://user:hunter2@x"])).expect_err("not redis");
        assert!(error.contains("not a redis:// or rediss:// URL"), "{error}");
        assert!(
            !error.contains("hunter2"),
            "the password is echoed: {error}"
        );
        let parsed = parse(&args(&["--redis-url", "redis://127.0.0.1:6379/0"]));
        if cfg!(feature = "redis") {
            let shown = format!("{:?}", parsed.expect("a Redis URL"));
            assert!(shown.contains("shared_rate_limits: true"), "{shown}");
        } else {
            let error = parsed.expect_err("no Redis client built in");
            assert!(error.contains("feature `redis`"), "{error}");
        }
    }
}
