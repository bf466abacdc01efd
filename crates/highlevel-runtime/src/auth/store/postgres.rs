//! Sessions in PostgreSQL, shared by every process of an app.

use std::time::Duration;

use tokio_postgres::Client;

use super::{Expected, StoreError, StoreFuture, TokenStore, Versioned};
use crate::auth::session::{Resource, Session, SessionKey};
use crate::postgres::{PostgresError, PostgresOptions, Reconnecting};

const STORE: &str = "postgres";

/// Sessions in two tables: `highlevel_oauth_sessions` (app, kind, resource, version,
/// session) and `highlevel_oauth_leases` (app, kind, resource, holder, until), created on
/// connect if missing.
///
/// Versions are checked in the `UPDATE`'s `WHERE`, leases taken with one
/// `INSERT … ON CONFLICT DO UPDATE … WHERE until < now()`, so both hold across processes.
/// Sessions hold tokens in clear: protect the database as you would the secrets.
///
/// Every statement is bounded by a statement timeout and the connection is made again after
/// the server drops it (see [`PostgresStore::connect_with`]); errors are
/// [`StoreError::Backend`] whose source is a [`PostgresError`].
#[derive(Clone)]
pub struct PostgresStore {
    connection: Reconnecting,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may carry a password.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// `CREATE TABLE IF NOT EXISTS` races with itself when several processes start at once
/// (duplicate `pg_type` rows), so creation is serialised by a transaction-scoped advisory
/// lock (the number is arbitrary, fixed for this store).
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7262016473);
CREATE TABLE IF NOT EXISTS highlevel_oauth_sessions (
    app text NOT NULL,
    kind text NOT NULL,
    resource text NOT NULL,
    version bigint NOT NULL,
    session text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app, kind, resource)
);
CREATE TABLE IF NOT EXISTS highlevel_oauth_leases (
    app text NOT NULL,
    kind text NOT NULL,
    resource text NOT NULL,
    holder text NOT NULL,
    until timestamptz NOT NULL,
    PRIMARY KEY (app, kind, resource)
);";

fn backend(e: PostgresError) -> StoreError {
    StoreError::backend(STORE, e)
}

/// A column of an unexpected type: the table is not ours as we made it.
fn decode(e: tokio_postgres::Error) -> StoreError {
    StoreError::backend(STORE, PostgresError::Backend(e))
}

fn parts(key: &SessionKey) -> (&str, &'static str, &str) {
    match &key.resource {
        Resource::Location(id) => (&key.app, "location", id),
        Resource::Company(id) => (&key.app, "company", id),
    }
}

impl PostgresStore {
    /// Connects with the default [`PostgresOptions`] and creates the tables if missing.
    /// `sslmode=require` in `config` speaks TLS trusting the system's certificate
    /// authorities; otherwise the connection is plain (a database on loopback or a private
    /// network). For a private certificate authority, use [`PostgresStore::connect_with`] and
    /// [`PostgresOptions::tls`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] (its source a [`PostgresError`]) when the server is unreachable
    /// or the tables cannot be made.
    pub async fn connect(config: &str) -> Result<Self, StoreError> {
        Self::connect_with(config, PostgresOptions::default()).await
    }

    /// [`PostgresStore::connect`] with other time bounds or TLS (see
    /// [`crate::postgres`] for how `sslmode` and [`PostgresOptions::tls`] combine).
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use highlevel_runtime::auth::PostgresStore;
    /// use highlevel_runtime::postgres::{PostgresOptions, PostgresTls};
    /// use highlevel_runtime::tls::TrustedRoots;
    ///
    /// let ca = TrustedRoots::from_pem(std::fs::read("ca.pem")?)?;
    /// let store = PostgresStore::connect_with(
    ///     "postgres://app@db.internal/app?sslmode=require",
    ///     PostgresOptions::new().tls(PostgresTls::Trust(ca)),
    /// )
    /// .await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// The store reconnects by itself when the server drops its connection: the call that
    /// finds it dropped may fail ([`PostgresError::is_transient`]), the next one reconnects.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] (its source a [`PostgresError`]) when the server is unreachable
    /// or the tables cannot be made.
    pub async fn connect_with(config: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let connection = Reconnecting::connect(config, SCHEMA, "token store", options)
            .await
            .map_err(backend)?;
        Ok(Self { connection })
    }

    /// Uses a connected client (its connection task already spawned) and creates the tables
    /// if missing. Statements are bounded by the default statement timeout; the store cannot
    /// reconnect a client it was handed, so once the connection closes every call fails.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the tables cannot be made.
    pub async fn with_client(client: Client) -> Result<Self, StoreError> {
        let connection =
            Reconnecting::with_client(client, SCHEMA, "token store", PostgresOptions::default())
                .await
                .map_err(backend)?;
        Ok(Self { connection })
    }
}

impl TokenStore for PostgresStore {
    fn get<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<Versioned>> {
        Box::pin(async move {
            let (app, kind, id) = parts(key);
            let row = self
                .connection
                .run(|client| async move {
                    client
                        .query_opt(
                            "SELECT version, session FROM highlevel_oauth_sessions \
                             WHERE app = $1 AND kind = $2 AND resource = $3",
                            &[&app, &kind, &id],
                        )
                        .await
                })
                .await
                .map_err(backend)?;
            let Some(row) = row else { return Ok(None) };
            let version: i64 = row.try_get(0).map_err(decode)?;
            let document: String = row.try_get(1).map_err(decode)?;
            let session =
                Session::from_store_json(&document).map_err(|e| StoreError::corrupt(key, &e))?;
            Ok(Some(Versioned {
                session,
                version: u64::try_from(version).unwrap_or_default(),
            }))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a SessionKey,
        session: &'a Session,
        expected: Expected,
    ) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let (app, kind, id) = parts(key);
            let document = session.to_store_json();
            let document = document.as_str();
            let row = self
                .connection
                .run(|client| async move {
                    match expected {
                        Expected::Absent => {
                            client
                                .query_opt(
                                    "INSERT INTO highlevel_oauth_sessions \
                                     (app, kind, resource, version, session) \
                                     VALUES ($1, $2, $3, 1, $4) ON CONFLICT DO NOTHING \
                                     RETURNING version",
                                    &[&app, &kind, &id, &document],
                                )
                                .await
                        }
                        Expected::Version(version) => {
                            let version = i64::try_from(version).unwrap_or(i64::MAX);
                            client
                                .query_opt(
                                    "UPDATE highlevel_oauth_sessions \
                                     SET version = version + 1, session = $5, updated_at = now() \
                                     WHERE app = $1 AND kind = $2 AND resource = $3 \
                                     AND version = $4 RETURNING version",
                                    &[&app, &kind, &id, &version, &document],
                                )
                                .await
                        }
                    }
                })
                .await
                .map_err(backend)?;
            let row = row.ok_or_else(|| StoreError::Conflict { key: key.clone() })?;
            let version: i64 = row.try_get(0).map_err(decode)?;
            Ok(u64::try_from(version).unwrap_or_default())
        })
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let (app, kind, id) = parts(key);
            for table in ["highlevel_oauth_sessions", "highlevel_oauth_leases"] {
                let statement =
                    format!("DELETE FROM {table} WHERE app = $1 AND kind = $2 AND resource = $3");
                let statement = statement.as_str();
                self.connection
                    .run(|client| async move {
                        client.execute(statement, &[&app, &kind, &id]).await
                    })
                    .await
                    .map_err(backend)?;
            }
            Ok(())
        })
    }

    fn try_lease<'a>(
        &'a self,
        key: &'a SessionKey,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let (app, kind, id) = parts(key);
            let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1) as f64;
            let row = self
                .connection
                .run(|client| async move {
                    client
                        .query_opt(
                            "INSERT INTO highlevel_oauth_leases (app, kind, resource, holder, until) \
                             VALUES ($1, $2, $3, $4, clock_timestamp() + $5 * interval '1 millisecond') \
                             ON CONFLICT (app, kind, resource) DO UPDATE \
                             SET holder = EXCLUDED.holder, until = EXCLUDED.until \
                             WHERE highlevel_oauth_leases.until < clock_timestamp() \
                                OR highlevel_oauth_leases.holder = EXCLUDED.holder \
                             RETURNING holder",
                            &[&app, &kind, &id, &holder, &millis],
                        )
                        .await
                })
                .await
                .map_err(backend)?;
            Ok(row.is_some())
        })
    }

    fn release<'a>(&'a self, key: &'a SessionKey, holder: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let (app, kind, id) = parts(key);
            self.connection
                .run(|client| async move {
                    client
                        .execute(
                            "DELETE FROM highlevel_oauth_leases \
                             WHERE app = $1 AND kind = $2 AND resource = $3 AND holder = $4",
                            &[&app, &kind, &id, &holder],
                        )
                        .await
                })
                .await
                .map_err(backend)?;
            Ok(())
        })
    }
}
