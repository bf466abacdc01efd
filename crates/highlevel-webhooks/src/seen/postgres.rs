//! Seen ids in PostgreSQL: one row per delivery, replaced once expired.

use std::time::Duration;

use highlevel_runtime::postgres::{PostgresOptions, Reconnecting};

use super::{SeenFuture, SeenStore};

/// Created on every (re)connect; concurrent creation is serialised by an advisory lock, as
/// `CREATE TABLE IF NOT EXISTS` races with itself.
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7214993);
CREATE TABLE IF NOT EXISTS highlevel_webhooks_seen (
    webhook_id text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
";

/// A new id, or an expired one, is (re)recorded and returns a row; a live one returns none.
const RECORD: &str = "
INSERT INTO highlevel_webhooks_seen (webhook_id, expires_at)
VALUES ($1, now() + make_interval(secs => $2))
ON CONFLICT (webhook_id) DO UPDATE SET expires_at = EXCLUDED.expires_at
WHERE highlevel_webhooks_seen.expires_at <= now()
RETURNING 1";

/// A live record returns a row; an expired one counts as not seen, as `RECORD` replaces it.
const SEEN: &str = "
SELECT 1 FROM highlevel_webhooks_seen WHERE webhook_id = $1 AND expires_at > now()";

/// Seen ids in a PostgreSQL table (`highlevel_webhooks_seen`), shared by every process of an
/// app. Expired rows are replaced when their id comes again and swept by
/// [`PostgresSeenStore::sweep`].
///
/// One connection, made again after the server drops it (the call that finds it dropped may
/// fail, the next reconnects); every statement is bounded by a statement timeout
/// ([`PostgresSeenStore::connect_with`]).
#[derive(Clone)]
pub struct PostgresSeenStore {
    connection: Reconnecting,
}

impl std::fmt::Debug for PostgresSeenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSeenStore").finish_non_exhaustive()
    }
}

impl PostgresSeenStore {
    /// Connects with a libpq-style `config` (`postgres://user@host/db`) and creates the table.
    /// `sslmode=require` speaks TLS trusting the system's certificate authorities.
    ///
    /// # Errors
    ///
    /// When the server does not answer or the table cannot be created.
    pub async fn connect(config: &str) -> Result<Self, String> {
        Self::connect_with(config, PostgresOptions::default()).await
    }

    /// [`PostgresSeenStore::connect`] with other time bounds or TLS
    /// ([`PostgresOptions::tls`]; `highlevel_runtime::postgres` says how it combines with
    /// `sslmode`). A statement past its timeout
    /// fails with an error that says it timed out.
    ///
    /// # Errors
    ///
    /// When the server does not answer in time or the table cannot be created.
    pub async fn connect_with(config: &str, options: PostgresOptions) -> Result<Self, String> {
        let connection =
            crate::backend::postgres(config, SCHEMA, "webhook seen-store", options).await?;
        Ok(Self { connection })
    }

    /// Deletes expired rows; returns how many.
    ///
    /// # Errors
    ///
    /// When the statement fails.
    pub async fn sweep(&self) -> Result<u64, String> {
        self.connection
            .run(|client| async move {
                client
                    .execute(
                        "DELETE FROM highlevel_webhooks_seen WHERE expires_at <= now()",
                        &[],
                    )
                    .await
            })
            .await
            .map_err(|e| e.to_string())
    }
}

impl SeenStore for PostgresSeenStore {
    fn first_sighting<'a>(&'a self, webhook_id: &'a str, ttl: Duration) -> SeenFuture<'a> {
        Box::pin(async move {
            let seconds = ttl.as_secs_f64();
            let rows = self
                .connection
                .run(|client| async move { client.query(RECORD, &[&webhook_id, &seconds]).await })
                .await
                .map_err(|e| e.to_string())?;
            Ok(!rows.is_empty())
        })
    }

    fn seen<'a>(&'a self, webhook_id: &'a str) -> SeenFuture<'a> {
        Box::pin(async move {
            let rows = self
                .connection
                .run(|client| async move { client.query(SEEN, &[&webhook_id]).await })
                .await
                .map_err(|e| e.to_string())?;
            Ok(!rows.is_empty())
        })
    }
}
