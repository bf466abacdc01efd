//! `cargo run --example quickstart`: the SDK doing its job, with nothing to configure.
//!
//! With no configuration it starts the sandbox in-process and creates contacts, reads one
//! back, searches, pages through all of them, shows what a bad request returns, makes the same
//! contact calls through API v3 (listing through search), and shows what the
//! rate-limit headers said; then it
//! installs itself as an OAuth app (authorization URL, callback with state, code exchange)
//! and rides out an expired token; last, it shows the signed webhooks the sandbox delivered
//! for all of that, verified by the SDK's endpoint. With
//! `HIGHLEVEL_TOKEN` and `HIGHLEVEL_LOCATION_ID` set it runs only the read-only steps against
//! the real API (`HIGHLEVEL_BASE_URL` overrides where that is).
//!
//! Exits non-zero when a step fails.

use std::process::ExitCode;
use std::time::Instant;

use futures_util::StreamExt as _;
use highlevel::HighLevel;
use highlevel::Scope;
use highlevel::auth::{AuthorizationHost, OAuthConfig};
use highlevel::contacts::types::{
    ContactsSearchSchema, ContactsSearchSuccessfulResponseDto, CreateContactDto, SearchBodyV2dto,
    UpdateContactDto,
};
use highlevel::webhooks::WebhookVerifier;
use highlevel::webhooks::events::Event;
use highlevel::webhooks::receiver::Received;
use highlevel_sandbox::{RunningSandbox, Sandbox};
use serde_json::json;

type Step<T> = Result<T, String>;

const PAGE_SIZE: u64 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let outcome = match (
        std::env::var("HIGHLEVEL_TOKEN").ok(),
        std::env::var("HIGHLEVEL_LOCATION_ID").ok(),
    ) {
        (Some(token), Some(location)) => against_highlevel(&token, &location).await,
        (None, None) => against_the_sandbox().await,
        (Some(_), None) => Err("HIGHLEVEL_TOKEN is set but HIGHLEVEL_LOCATION_ID is not; set both to use HighLevel, or neither for the sandbox".into()),
        (None, Some(_)) => Err("HIGHLEVEL_LOCATION_ID is set but HIGHLEVEL_TOKEN is not; set both to use HighLevel, or neither for the sandbox".into()),
    };
    match outcome {
        Ok(()) => {
            println!("\nDone in {:.2} s.", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(step) => {
            eprintln!("\nFAILED: {step}");
            ExitCode::FAILURE
        }
    }
}

async fn against_the_sandbox() -> Step<()> {
    // Your app's webhook endpoint, bound first so the sandbox knows where to deliver.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("binding the webhook endpoint: {e}"))?;
    let webhook_url = format!(
        "http://{}/webhooks/highlevel",
        listener
            .local_addr()
            .map_err(|e| format!("webhook endpoint address: {e}"))?
    );
    let sandbox: RunningSandbox = Sandbox::builder()
        .webhook_url(webhook_url.as_str())
        .serve()
        .await
        .map_err(|e| format!("starting the sandbox: {e}"))?;
    let mut events = serve_webhooks(listener, &sandbox.webhook_public_key())?;
    println!(
        "Started the HighLevel sandbox on {} (location {}).",
        sandbox.url(),
        sandbox.location_id()
    );
    println!(
        "Set HIGHLEVEL_TOKEN and HIGHLEVEL_LOCATION_ID to run the read-only steps against HighLevel itself.\n"
    );
    let hl = HighLevel::builder()
        .private_integration_token(sandbox.token())
        .base_url(sandbox.url())
        .build()
        .map_err(|e| format!("building the client: {e}"))?;
    let location = sandbox.location_id();

    println!("1. Create contacts");
    let people = [
        ("Ada", "Lovelace", "ada@example.com"),
        ("Grace", "Hopper", "grace@example.com"),
        ("Alan", "Turing", "alan@example.com"),
        ("Katherine", "Johnson", "katherine@example.com"),
        ("Edsger", "Dijkstra", "edsger@example.com"),
    ];
    let mut ids = Vec::new();
    for (first, last, email) in people {
        let created = hl
            .contacts()
            .create_contact()
            .body(new_contact(location, first, last, email)?)
            .send()
            .await
            .map_err(|e| format!("creating {first} {last}: {e}"))?
            .into_inner();
        let id = created
            .contact
            .and_then(|c| c.id)
            .ok_or_else(|| format!("creating {first} {last}: the answer carried no id"))?;
        println!("   created {first} {last} <{email}> as {id}");
        ids.push(id);
    }

    println!("\n2. Read one back and update it");
    let first_id = ids.first().ok_or("no contact was created")?;
    let contact = hl
        .contacts()
        .get_contact()
        .contact_id(first_id.as_str())
        .send()
        .await
        .map_err(|e| format!("reading {first_id}: {e}"))?
        .into_inner()
        .contact
        .ok_or_else(|| format!("reading {first_id}: no contact in the answer"))?;
    println!(
        "   {first_id} is {} {} <{}>, added {}",
        contact.first_name.as_deref().unwrap_or("?"),
        contact.last_name.as_deref().unwrap_or("?"),
        contact.email.as_deref().unwrap_or("?"),
        contact.date_added.as_deref().unwrap_or("?"),
    );
    let change = UpdateContactDto {
        tags: vec!["vip".to_owned()],
        city: Some("London".to_owned()),
        ..UpdateContactDto::default()
    };
    hl.contacts()
        .update_contact()
        .contact_id(first_id.as_str())
        .body(change)
        .send()
        .await
        .map_err(|e| format!("updating {first_id}: {e}"))?;
    println!("   tagged {first_id} `vip` and set its city");

    println!("\n3. Search");
    search(&hl, location, "hopper").await?;

    println!("\n4. Page through every contact, {PAGE_SIZE} at a time");
    let seen = page_through(&hl, location).await?;
    if seen != ids.len() {
        return Err(format!(
            "paging saw {seen} contacts, {} were created",
            ids.len()
        ));
    }

    println!("\n5. A bad request");
    let refused = hl
        .contacts()
        .create_contact()
        .body(new_contact(location, "Bad", "Email", "not-an-email")?)
        .send()
        .await;
    match refused {
        Err(highlevel::Error::Api(api)) => println!(
            "   creating a contact with email `not-an-email` was refused: HTTP {}, message {:?}, traceId {}",
            api.status().as_u16(),
            api.message().unwrap_or_default(),
            api.trace_id().unwrap_or("(none)")
        ),
        Err(other) => return Err(format!("the bad request failed the wrong way: {other}")),
        Ok(_) => return Err("the bad request was accepted".into()),
    }

    println!("\n6. Delete a contact");
    let last_id = ids.last().ok_or("no contact was created")?;
    hl.contacts()
        .delete_contact()
        .contact_id(last_id.as_str())
        .send()
        .await
        .map_err(|e| format!("deleting {last_id}: {e}"))?;
    match hl
        .contacts()
        .get_contact()
        .contact_id(last_id.as_str())
        .send()
        .await
    {
        Err(highlevel::Error::Api(api)) if api.status().as_u16() == 404 => {
            println!("   deleted {last_id}; reading it again answers 404");
        }
        Err(other) => return Err(format!("reading a deleted contact: {other}")),
        Ok(_) => return Err(format!("{last_id} is still there after deleting it")),
    }

    println!("\n7. The same calls through API v3");
    same_calls_through_v3(&hl, location).await?;

    println!("\n8. Rate limits");
    let status = rate_limits(&hl);
    if status.is_none_or(|s| s.remaining.is_none()) {
        return Err("the sandbox's answers carried no X-RateLimit headers".into());
    }

    oauth_install(&sandbox).await?;

    println!("\n10. Webhooks");
    receive_webhooks(&mut events, &webhook_url).await?;
    sandbox.shutdown().await;
    Ok(())
}

/// Serves the SDK's ready webhook endpoint (verification over the raw body, replay refusal,
/// typed events on a channel) on `listener`, trusting `public_key` (Ed25519, base64).
fn serve_webhooks(
    listener: tokio::net::TcpListener,
    public_key: &str,
) -> Step<tokio::sync::mpsc::Receiver<Received>> {
    let verifier = WebhookVerifier::new()
        .ed25519_key(public_key)
        .map_err(|e| format!("the sandbox's webhook key: {e}"))?;
    let (app, events) = highlevel::webhooks::receiver::router("/webhooks/highlevel", verifier, 64);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(events)
}

/// Every change above was also delivered as a signed webhook: five creates, an update, a
/// delete and the install.
/// API v3 beside v2 in one build: the same contact calls through `hl.v3().contacts()`
/// (feature `v3-contacts`), each sending `Version: v3`. v3 has no `GET /contacts/`: its contacts
/// are listed through search, page by page.
async fn same_calls_through_v3(hl: &HighLevel, location: &str) -> Step<()> {
    use highlevel::v3::contacts::types::{CreateContactDtoV3, SearchBodyV2dto as SearchV3};
    let v3 = hl.v3().contacts();
    let body: CreateContactDtoV3 = CreateContactDtoV3::builder()
        .location_id(location.to_owned())
        .first_name(Some("Barbara".to_owned()))
        .last_name(Some("Liskov".to_owned()))
        .email(Some("barbara@example.com".to_owned()))
        .try_into()
        .map_err(|e| format!("building the v3 contact: {e}"))?;
    let id = v3
        .create_contact()
        .body(body)
        .send()
        .await
        .map_err(|e| format!("v3: creating Barbara Liskov: {e}"))?
        .into_inner()
        .contact
        .and_then(|c| c.id)
        .ok_or("v3: the created contact carried no id")?;
    let read = v3
        .get_contact()
        .contact_id(id.as_str())
        .send()
        .await
        .map_err(|e| format!("v3: reading {id}: {e}"))?
        .into_inner()
        .contact
        .ok_or_else(|| format!("v3: reading {id}: no contact in the answer"))?;
    println!(
        "   created and read back {} {} <{}> as {id} (Version: v3)",
        read.first_name.as_deref().unwrap_or("?"),
        read.last_name.as_deref().unwrap_or("?"),
        read.email.as_deref().unwrap_or("?"),
    );
    let (mut page, mut listed) = (1u64, 0usize);
    let total = loop {
        let body = json!({ "locationId": location, "pageLimit": 2, "page": page });
        let answer = v3
            .search_contacts_advanced()
            .body(SearchV3::from(
                body.as_object().cloned().unwrap_or_default(),
            ))
            .send()
            .await
            .map_err(|e| format!("v3: searching page {page}: {e}"))?
            .into_inner();
        let on_page = answer
            .get("contacts")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        listed += on_page;
        if on_page < 2 {
            break answer.get("total").and_then(serde_json::Value::as_u64);
        }
        page += 1;
    };
    if total != Some(listed as u64) {
        return Err(format!(
            "v3: search listed {listed} contacts, its total says {total:?}"
        ));
    }
    println!("   listed all {listed} contacts through search, 2 a page, {page} pages");
    v3.delete_contact()
        .contact_id(id.as_str())
        .send()
        .await
        .map_err(|e| format!("v3: deleting {id}: {e}"))?;
    println!("   deleted {id}");
    Ok(())
}

async fn receive_webhooks(
    events: &mut tokio::sync::mpsc::Receiver<Received>,
    url: &str,
) -> Step<()> {
    // Five creates, an update and a delete (v2), a create and a delete (v3), the install.
    const EXPECTED: usize = 10;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut kinds: Vec<String> = Vec::new();
    while kinds.len() < EXPECTED {
        let received = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| format!("{} of {EXPECTED} webhooks arrived in time", kinds.len()))?
            .ok_or("the webhook endpoint stopped")?;
        let kind = match &received.event {
            Event::ContactCreate(c) => {
                format!("ContactCreate {}", c.email.as_deref().unwrap_or("?"))
            }
            Event::ContactUpdate(c) => format!("ContactUpdate {}", c.id.as_deref().unwrap_or("?")),
            Event::ContactDelete(c) => format!("ContactDelete {}", c.id.as_deref().unwrap_or("?")),
            other => other.event_type().unwrap_or("(no type)").to_owned(),
        };
        println!(
            "   {kind}: verified by {} (webhookId {})",
            received.delivery.scheme, received.delivery.webhook_id
        );
        kinds.push(kind);
    }
    println!("   {EXPECTED} deliveries to {url}, each verified over its raw body and seen once");
    Ok(())
}

/// A marketplace app's install, as your web app would run it: send the admin to the
/// authorization page, take the callback, and from then on call as the location.
// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
async fn oauth_install(sandbox: &RunningSandbox) -> Step<()> {
    println!("\n9. Install as an OAuth app");
    let hl = HighLevel::builder()
        .base_url(sandbox.url())
        .oauth_app(
            OAuthConfig::new(sandbox.client_id(), sandbox.client_secret())
                .authorization_host(AuthorizationHost::Custom(sandbox.url().to_owned())),
        )
        .build()
        .map_err(|e| format!("building the OAuth client: {e}"))?;
    let app = hl.oauth_app().ok_or("the handle has no OAuth app")?;
    let request = app
        .authorize("https://myapp.example/oauth/callback")
        .scopes([
            Scope::from("contacts.readonly"),
            Scope::from("contacts.write"),
        ])
        .build()
        .map_err(|e| format!("building the authorization URL: {e}"))?;
    println!("   send the admin to {}", request.url);
    // The admin picks a location and consents; the sandbox's page does so at once.
    // reqwest is built without a rustls provider: it takes the one the SDK installs.
    highlevel::runtime::tls::install_crypto_provider().map_err(|e| e.to_string())?;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("building the browser: {e}"))?;
    let page = browser
        .get(request.url.clone())
        .send()
        .await
        .map_err(|e| format!("opening the authorization page: {e}"))?;
    let callback = page
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("the authorization page answered {}", page.status()))?
        .to_owned();
    println!("   the browser comes back to /oauth/callback?code=…&state=…");
    let installed = app
        .complete_authorization(&callback, &request.pending)
        .await
        .map_err(|e| format!("completing the authorization: {e}"))?;
    println!(
        "   state checked, code exchanged: {} installed with scopes `{}`",
        installed.resource, installed.scope
    );
    let location = sandbox.location_id();
    let as_location = hl.location(location);
    let count =
        |answer: ContactsSearchSuccessfulResponseDto| answer.contacts.map_or(0, |c| c.len());
    let listed = as_location
        .contacts()
        .get_contacts()
        .location_id(location)
        .send()
        .await
        .map_err(|e| format!("calling as the location: {e}"))?
        .into_inner();
    println!("   as {location}: {} contact(s)", count(listed));
    // HighLevel can expire a token early; the SDK refreshes it once and retries the call.
    sandbox.expire_access_tokens();
    as_location
        .contacts()
        .get_contacts()
        .location_id(location)
        .send()
        .await
        .map_err(|e| format!("calling after the token expired: {e}"))?;
    let stats = sandbox.oauth_stats();
    println!(
        "   the token expired: 401, {} refresh (rotated refresh token stored first), call retried",
        stats.refreshes
    );
    if stats.refreshes != 1 || stats.refresh_token_reuses != 0 {
        return Err(format!("unexpected refreshes: {stats:?}"));
    }
    Ok(())
}

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
async fn against_highlevel(token: &str, location: &str) -> Step<()> {
    let base_url = std::env::var("HIGHLEVEL_BASE_URL")
        .unwrap_or_else(|_| "https://services.leadconnectorhq.com".to_owned());
    println!("Running the read-only steps against {base_url} (location {location}).\n");
    let hl = HighLevel::builder()
        .private_integration_token(token)
        .base_url(base_url)
        .build()
        .map_err(|e| format!("building the client: {e}"))?;
    println!("1. Search");
    search(&hl, location, "a").await?;
    println!("\n2. Page through every contact, {PAGE_SIZE} at a time (the first 5 pages)");
    let (_, first) = page_through_at_most(&hl, location, 5).await?;
    if let Some(id) = first {
        println!("\n3. Read one back");
        let contact = hl
            .contacts()
            .get_contact()
            .contact_id(id.as_str())
            .send()
            .await
            .map_err(|e| format!("reading {id}: {e}"))?
            .into_inner()
            .contact
            .ok_or_else(|| format!("reading {id}: no contact in the answer"))?;
        let name: Vec<&str> = [&contact.first_name, &contact.last_name]
            .into_iter()
            .filter_map(|part| part.as_deref())
            .collect();
        println!(
            "   {id} is {} <{}>, added {}",
            name.join(" "),
            contact.email.as_deref().unwrap_or("no email"),
            contact.date_added.as_deref().unwrap_or("?"),
        );
    }
    println!("\n4. A bad request (read-only: a page larger than HighLevel allows)");
    match hl
        .contacts()
        .get_contacts()
        .location_id(location)
        .limit(101)
        .send()
        .await
    {
        Err(highlevel::Error::Api(api)) => println!(
            "   limit=101 was refused: HTTP {}, message {:?}, traceId {}",
            api.status().as_u16(),
            api.message().unwrap_or_default(),
            api.trace_id().unwrap_or("(none)")
        ),
        Err(other) => return Err(format!("the bad request failed the wrong way: {other}")),
        Ok(_) => println!("   HighLevel accepted limit=101 this time"),
    }
    println!("\n5. Rate limits");
    rate_limits(&hl);
    Ok(())
}

/// Prints what the answers said about the budget, by which the SDK paces its calls.
fn rate_limits(hl: &HighLevel) -> Option<highlevel::RateLimitStatus> {
    let Some(status) = hl.rate_limits().into_iter().next() else {
        println!("   no call made yet");
        return None;
    };
    let count = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    println!(
        "   {}: {} of {} requests left in the {} ms window, {} of {} today; calls wait for \
         their slot instead of collecting 429s",
        status.resource,
        count(status.remaining.map(u64::from)),
        status.max,
        status.interval.as_millis(),
        count(status.daily_remaining),
        status.daily_limit
    );
    Some(status)
}

fn new_contact(location: &str, first: &str, last: &str, email: &str) -> Step<CreateContactDto> {
    CreateContactDto::builder()
        .location_id(location.to_owned())
        .first_name(Some(first.to_owned()))
        .last_name(Some(last.to_owned()))
        .email(Some(email.to_owned()))
        .try_into()
        .map_err(|e| format!("building the contact {first} {last}: {e}"))
}

async fn search(hl: &HighLevel, location: &str, query: &str) -> Step<()> {
    // The spec leaves the search body open; it is a JSON object.
    let body = json!({ "locationId": location, "query": query, "pageLimit": 10 });
    let found = hl
        .contacts()
        .search_contacts_advanced()
        .body(SearchBodyV2dto::from(
            body.as_object().cloned().unwrap_or_default(),
        ))
        .send()
        .await
        .map_err(|e| format!("searching for `{query}`: {e}"))?
        .into_inner();
    let total = found.get("total").and_then(serde_json::Value::as_u64);
    let names: Vec<String> = found
        .get("contacts")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .map(|c| {
                    let field = |f: &str| c.get(f).and_then(|v| v.as_str()).unwrap_or("");
                    format!("{} {}", field("firstName"), field("lastName"))
                        .trim()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    println!(
        "   `{query}` matches {} contact(s): {}",
        total.map_or_else(|| "?".to_owned(), |t| t.to_string()),
        names.join(", ")
    );
    Ok(())
}

async fn page_through(hl: &HighLevel, location: &str) -> Step<usize> {
    Ok(page_through_at_most(hl, location, usize::MAX).await?.0)
}

/// Reads pages with the generated `.pages()` stream, which follows `meta.startAfterId` /
/// `meta.startAfter` itself and ends after the last page; returns how many contacts it saw
/// and the first one's id. (`.stream()` yields the contacts one by one instead.)
// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
async fn page_through_at_most(
    hl: &HighLevel,
    location: &str,
    pages: usize,
) -> Step<(usize, Option<String>)> {
    let contacts_api = hl.contacts();
    let mut stream = contacts_api
        .get_contacts()
        .location_id(location)
        .pages()
        .page_size(PAGE_SIZE)
        .take(pages);
    let (mut seen, mut number, mut first) = (0, 0, None);
    while let Some(answer) = stream.next().await {
        number += 1;
        let answer: ContactsSearchSuccessfulResponseDto =
            answer.map_err(|e| format!("reading page {number}: {e}"))?;
        let contacts: &[ContactsSearchSchema] = answer.contacts.as_deref().unwrap_or_default();
        let emails: Vec<&str> = contacts
            .iter()
            .map(|c| c.email.as_deref().unwrap_or("(no email)"))
            .collect();
        seen += contacts.len();
        if first.is_none() {
            first = contacts.first().and_then(|c| c.id.clone());
        }
        let total = answer.meta.as_ref().and_then(|m| m.total);
        println!(
            "   page {number}: {} of {} — {}",
            contacts.len(),
            total.map_or_else(|| "?".to_owned(), |t| t.to_string()),
            emails.join(", ")
        );
    }
    if number < pages {
        println!("   no next page: {seen} contact(s) in all");
    } else {
        println!("   stopped after {pages} pages: {seen} contact(s) so far");
    }
    Ok((seen, first))
}
