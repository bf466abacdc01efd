//! Pending installs in PostgreSQL: one row per agency and location.

use highlevel_runtime::postgres::{PostgresOptions, Reconnecting};

use super::{PendingFuture, PendingInstalls};

/// Created on every (re)connect; concurrent creation is serialised by an advisory lock, as
/// `CREATE TABLE IF NOT EXISTS` races with itself.
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7214994);
CREATE TABLE IF NOT EXISTS highlevel_pending_installs (
    company_id text NOT NULL,
    location_id text NOT NULL,
    PRIMARY KEY (company_id, location_id)
);
";

const ADD: &str = "INSERT INTO highlevel_pending_installs VALUES ($1, $2) ON CONFLICT DO NOTHING";
const LIST: &str = "SELECT location_id FROM highlevel_pending_installs \
                    WHERE company_id = $1 ORDER BY location_id";
const TAKE_ALL: &str =
    "DELETE FROM highlevel_pending_installs WHERE company_id = $1 RETURNING location_id";
const REMOVE: &str =
    "DELETE FROM highlevel_pending_installs WHERE company_id = $1 AND location_id = $2";

/// Pending installs in a PostgreSQL table (`highlevel_pending_installs`), shared by the
/// processes that receive webhooks and exchange codes.
///
/// One connection, made again after the server drops it (the call that finds it dropped may
/// fail, the next reconnects); every statement is bounded by a statement timeout
/// ([`PostgresPendingInstalls::connect_with`]).
#[derive(Clone)]
pub struct PostgresPendingInstalls {
    connection: Reconnecting,
}

impl std::fmt::Debug for PostgresPendingInstalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresPendingInstalls")
            .finish_non_exhaustive()
    }
}

impl PostgresPendingInstalls {
    /// Connects with a libpq-style `config` (`postgres://user@host/db`) and creates the table.
    /// `sslmode=require` speaks TLS trusting the system's certificate authorities.
    ///
    /// # Errors
    ///
    /// When the server does not answer or the table cannot be created.
    pub async fn connect(config: &str) -> Result<Self, String> {
        Self::connect_with(config, PostgresOptions::default()).await
    }

    /// [`PostgresPendingInstalls::connect`] with other time bounds or TLS
    /// ([`PostgresOptions::tls`]; `highlevel_runtime::postgres` says how it combines with
    /// `sslmode`). A statement past its
    /// timeout fails with an error that says it timed out.
    ///
    /// # Errors
    ///
    /// When the server does not answer in time or the table cannot be created.
    pub async fn connect_with(config: &str, options: PostgresOptions) -> Result<Self, String> {
        let connection =
            crate::backend::postgres(config, SCHEMA, "pending installs", options).await?;
        Ok(Self { connection })
    }
}

impl PendingInstalls for PostgresPendingInstalls {
    fn add<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        Box::pin(async move {
            self.connection
                .run(|client| async move { client.execute(ADD, &[&company, &location]).await })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn list<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        Box::pin(async move {
            let rows = self
                .connection
                .run(|client| async move { client.query(LIST, &[&company]).await })
                .await
                .map_err(|e| e.to_string())?;
            locations(&rows)
        })
    }

    fn take_all<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        Box::pin(async move {
            // One statement: two processes never both take a location.
            let rows = self
                .connection
                .run(|client| async move { client.query(TAKE_ALL, &[&company]).await })
                .await
                .map_err(|e| e.to_string())?;
            locations(&rows)
        })
    }

    fn remove<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        Box::pin(async move {
            self.connection
                .run(|client| async move { client.execute(REMOVE, &[&company, &location]).await })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

fn locations(rows: &[tokio_postgres::Row]) -> Result<Vec<String>, String> {
    rows.iter()
        .map(|row| row.try_get::<_, String>(0))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("postgres: {e}"))
}
