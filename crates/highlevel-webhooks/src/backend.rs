//! Connections of the shared stores (seen ids, pending installs), one way for each backend.

#[cfg(feature = "redis")]
/// A self-reconnecting connection to `url` (`redis://…`, `rediss://…`), made by the runtime
/// as the token store's is.
pub(crate) async fn redis(
    url: &str,
    options: &highlevel_runtime::redis::RedisOptions,
) -> Result<redis::aio::ConnectionManager, String> {
    highlevel_runtime::redis::connect(url, options)
        .await
        .map_err(|e| e.to_string())
}

#[cfg(feature = "postgres")]
/// A connection for a libpq-style `config` that is made again after the server drops it,
/// with `schema` run (in one transaction) on each new one. `schema` takes its own advisory
/// lock: `CREATE TABLE IF NOT EXISTS` races with itself.
pub(crate) async fn postgres(
    config: &str,
    schema: &'static str,
    what: &'static str,
    options: highlevel_runtime::postgres::PostgresOptions,
) -> Result<highlevel_runtime::postgres::Reconnecting, String> {
    highlevel_runtime::postgres::Reconnecting::connect(config, schema, what, options)
        .await
        .map_err(|e| e.to_string())
}
