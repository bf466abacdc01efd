//! The README's example: list a location's contacts with a private integration token.
//!
//! ```sh
//! HIGHLEVEL_TOKEN=pit-… HIGHLEVEL_LOCATION_ID=… cargo run -p highlevel --features contacts --example list_contacts
//! ```

use highlevel::HighLevel;

// `get_contacts` is deprecated upstream, yet HighLevel and the sandbox still serve it: it is
// the simplest authenticated list call, which is all this needs.
#[allow(deprecated)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let hl = HighLevel::builder()
        .private_integration_token(std::env::var("HIGHLEVEL_TOKEN")?)
        .build()?;

    let page = hl
        .contacts()
        .get_contacts()
        .location_id(std::env::var("HIGHLEVEL_LOCATION_ID")?)
        .limit(20)
        .send()
        .await?
        .into_inner();
    for contact in page.contacts.unwrap_or_default() {
        println!("{} {:?}", contact.id.unwrap_or_default(), contact.email);
    }

    match hl
        .contacts()
        .get_contact()
        .contact_id("missing")
        .send()
        .await
    {
        Err(highlevel::Error::Api(e)) => {
            eprintln!(
                "HTTP {}: {} (traceId {:?})",
                e.status(),
                e.message().unwrap_or_default(),
                e.trace_id()
            );
        }
        other => println!("{other:?}"),
    }
    Ok(())
}
