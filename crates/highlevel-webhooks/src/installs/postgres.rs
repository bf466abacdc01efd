//! Pending installs in PostgreSQL: one row per agency and location.

use std::sync::Arc;

use tokio_postgres::Client;

use super::{PendingFuture, PendingInstalls};

/// Created on connect; concurrent creation is serialised by an advisory lock, as
/// `CREATE TABLE IF NOT EXISTS` races with itself.
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7214994);
CREATE TABLE IF NOT EXISTS highlevel_pending_installs (
    company_id text NOT NULL,
    location_id text NOT NULL,
    PRIMARY KEY (company_id, location_id)
);
";

/// Pending installs in a PostgreSQL table (`highlevel_pending_installs`), shared by the
/// processes that receive webhooks and exchange codes. One connection.
#[derive(Clone)]
pub struct PostgresPendingInstalls {
    client: Arc<Client>,
}

impl std::fmt::Debug for PostgresPendingInstalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresPendingInstalls")
            .finish_non_exhaustive()
    }
}

impl PostgresPendingInstalls {
    /// Connects with a libpq-style `config` (`postgres://user@host/db`) and creates the table.
    ///
    /// # Errors
    ///
    /// When the server does not answer or the table cannot be created.
    pub async fn connect(config: &str) -> Result<Self, String> {
        let client = crate::backend::postgres(config, SCHEMA, "pending installs").await?;
        Ok(Self { client })
    }
}

impl PendingInstalls for PostgresPendingInstalls {
    fn add<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .execute(
                    "INSERT INTO highlevel_pending_installs VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&company, &location],
                )
                .await
                .map(|_| ())
                .map_err(|e| format!("postgres: {e}"))
        })
    }

    fn list<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        Box::pin(async move {
            let rows = self
                .client
                .query(
                    "SELECT location_id FROM highlevel_pending_installs WHERE company_id = $1 ORDER BY location_id",
                    &[&company],
                )
                .await
                .map_err(|e| format!("postgres: {e}"))?;
            rows.iter()
                .map(|row| row.try_get::<_, String>(0))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("postgres: {e}"))
        })
    }

    fn take_all<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        Box::pin(async move {
            // One statement: two processes never both take a location.
            let rows = self
                .client
                .query(
                    "DELETE FROM highlevel_pending_installs WHERE company_id = $1 RETURNING location_id",
                    &[&company],
                )
                .await
                .map_err(|e| format!("postgres: {e}"))?;
            rows.iter()
                .map(|row| row.try_get::<_, String>(0))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("postgres: {e}"))
        })
    }

    fn remove<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .execute(
                    "DELETE FROM highlevel_pending_installs WHERE company_id = $1 AND location_id = $2",
                    &[&company, &location],
                )
                .await
                .map(|_| ())
                .map_err(|e| format!("postgres: {e}"))
        })
    }
}
