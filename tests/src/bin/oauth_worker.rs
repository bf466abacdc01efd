//! One process of the multi-process token store test: N concurrent calls for one location
//! through a shared token store, all released at the same instant.
//!
//! `oauth_worker --sandbox URL --client-id ID --client-secret S --app-id APP --store URL|DIR
//!  --location ID --callers N --start-at-ms UNIX_MS`; prints `ok N` or the first error.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use highlevel::HighLevel;
use highlevel::auth::{FileStore, OAuthConfig, PostgresStore, RedisStore};

struct Args {
    sandbox: String,
    client_id: String,
    client_secret: String,
    app_id: String,
    store: String,
    location: String,
    callers: usize,
    start_at_ms: u128,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut get = |name: &str| -> Result<String, String> {
        match (args.next(), args.next()) {
            (Some(flag), Some(value)) if flag == name => Ok(value),
            _ => Err(format!("expected {name} VALUE")),
        }
    };
    Ok(Args {
        sandbox: get("--sandbox")?,
        client_id: get("--client-id")?,
        client_secret: get("--client-secret")?,
        app_id: get("--app-id")?,
        store: get("--store")?,
        location: get("--location")?,
        callers: get("--callers")?
            .parse()
            .map_err(|_| "--callers: a count")?,
        start_at_ms: get("--start-at-ms")?
            .parse()
            .map_err(|_| "--start-at-ms: unix milliseconds")?,
    })
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
async fn run(args: Args) -> Result<usize, String> {
    let config = OAuthConfig::new(&args.client_id, &args.client_secret).app_id(&args.app_id);
    let config = if args.store.starts_with("redis://") {
        config.store(
            RedisStore::connect(&args.store)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else if args.store.starts_with("postgres://") {
        config.store(
            PostgresStore::connect(&args.store)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        config.store(FileStore::new(&args.store))
    };
    let hl = HighLevel::builder()
        .base_url(&args.sandbox)
        .oauth_app(config)
        .build()
        .map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let wait = u64::try_from(args.start_at_ms.saturating_sub(now)).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let calls: Vec<_> = (0..args.callers)
        .map(|_| {
            let hl = hl.location(&args.location);
            let location = args.location.clone();
            tokio::spawn(async move {
                hl.contacts()
                    .get_contacts()
                    .location_id(location.as_str())
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut ok = 0;
    for call in calls {
        call.await.map_err(|e| e.to_string())??;
        ok += 1;
    }
    Ok(ok)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("oauth_worker: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(n) => {
            println!("ok {n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oauth_worker: {e}");
            ExitCode::FAILURE
        }
    }
}
