//! Connections of the shared stores (seen ids, pending installs), one way for each backend.

#[cfg(feature = "redis")]
/// A self-reconnecting connection to `url` (`redis://…`).
pub(crate) async fn redis(url: &str) -> Result<redis::aio::ConnectionManager, String> {
    let client = redis::Client::open(url).map_err(|e| format!("redis: {e}"))?;
    redis::aio::ConnectionManager::new(client)
        .await
        .map_err(|e| format!("redis: {e}"))
}

#[cfg(feature = "postgres")]
/// A client for a libpq-style `config`, after running `schema` in one transaction (the
/// schema takes its own advisory lock: `CREATE TABLE IF NOT EXISTS` races with itself).
pub(crate) async fn postgres(
    config: &str,
    schema: &str,
    what: &'static str,
) -> Result<std::sync::Arc<tokio_postgres::Client>, String> {
    let (mut client, connection) = tokio_postgres::connect(config, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("postgres: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, store = what, "postgres: connection ended");
        }
    });
    let transaction = client
        .transaction()
        .await
        .map_err(|e| format!("postgres: {e}"))?;
    transaction
        .batch_execute(schema)
        .await
        .map_err(|e| format!("postgres: {e}"))?;
    transaction
        .commit()
        .await
        .map_err(|e| format!("postgres: {e}"))?;
    Ok(std::sync::Arc::new(client))
}
