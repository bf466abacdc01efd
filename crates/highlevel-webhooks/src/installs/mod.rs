//! INSTALL and UNINSTALL, so that no install is lost whatever the order of events.
//!
//! An INSTALL for a location of an agency whose session is stored mints and stores the
//! location's token at once. When the agency's code exchange has not stored its session yet
//! (HighLevel may deliver the INSTALL first), the install is kept in a [`PendingInstalls`]
//! store and completed as soon as the exchange stores the session: through
//! [`Installs::complete_authorization`], or [`Installs::agency_installed`] for an app that
//! exchanges codes elsewhere. UNINSTALL forgets the resource's session. Both are idempotent.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use highlevel_runtime::auth::{AuthError, Installed, OAuthApp, PendingAuthorization, Resource};

use crate::events::Event;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "postgres")]
pub use postgres::PostgresPendingInstalls;
#[cfg(feature = "redis")]
pub use redis::RedisPendingInstalls;

/// A pending-installs answer in flight.
pub type PendingFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Locations installed under an agency whose session is not stored yet.
pub trait PendingInstalls: fmt::Debug + Send + Sync {
    /// Keeps `location` pending under `company` (again is fine).
    fn add<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()>;
    /// Removes and returns every location pending under `company`, atomically.
    fn take_all<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>>;
    /// Drops `location` from `company`'s pending ones (an uninstall).
    fn remove<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()>;
}

/// Pending installs in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryPendingInstalls {
    pending: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl MemoryPendingInstalls {
    /// None pending.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeSet<String>>> {
        // One map operation per call: a panic cannot leave it torn.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl PendingInstalls for MemoryPendingInstalls {
    fn add<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        self.lock()
            .entry(company.to_owned())
            .or_default()
            .insert(location.to_owned());
        Box::pin(async { Ok(()) })
    }

    fn take_all<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        let taken = self.lock().remove(company).unwrap_or_default();
        Box::pin(async move { Ok(taken.into_iter().collect()) })
    }

    fn remove<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        let mut pending = self.lock();
        if let Some(locations) = pending.get_mut(company) {
            locations.remove(location);
            if locations.is_empty() {
                pending.remove(company);
            }
        }
        Box::pin(async { Ok(()) })
    }
}

/// What handling an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallOutcome {
    /// The location's token was minted from its agency's and stored.
    LocationTokenStored {
        /// The agency.
        company: String,
        /// The location.
        location: String,
    },
    /// The agency's session is not stored yet: the location waits for it.
    Pending {
        /// The agency.
        company: String,
        /// The location.
        location: String,
    },
    /// An install with nothing to mint: an agency install (whose pending locations were
    /// completed, `completed` of them), or a location install whose own code exchange
    /// stores its session.
    NothingToMint {
        /// Pending locations completed.
        completed: usize,
    },
    /// The resource's session was deleted (or there was none).
    Forgotten(Resource),
    /// Not an INSTALL or UNINSTALL.
    NotAnInstall,
}

/// Why an install could not be handled; the event should be retried (answer 5xx).
#[derive(Debug)]
#[non_exhaustive]
pub enum InstallError {
    /// The token store or HighLevel's token endpoint failed.
    Auth(AuthError),
    /// The pending-installs store failed.
    Pending(String),
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auth(e) => write!(f, "install: {e}"),
            Self::Pending(e) => write!(f, "install: pending-installs store: {e}"),
        }
    }
}

impl std::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Auth(e) => Some(e),
            Self::Pending(_) => None,
        }
    }
}

impl From<AuthError> for InstallError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

/// Turns INSTALL and UNINSTALL events into stored and forgotten sessions of an OAuth app.
#[derive(Debug, Clone)]
pub struct Installs {
    app: OAuthApp,
    pending: Arc<dyn PendingInstalls>,
}

impl Installs {
    /// For `app`'s sessions, pending installs kept in memory.
    pub fn new(app: OAuthApp) -> Self {
        Self {
            app,
            pending: Arc::new(MemoryPendingInstalls::new()),
        }
    }

    /// Keeps pending installs in `store` (shared by the processes that receive webhooks and
    /// those that exchange codes).
    pub fn pending_store(mut self, store: impl PendingInstalls + 'static) -> Self {
        self.pending = Arc::new(store);
        self
    }

    /// Handles one event; anything but INSTALL and UNINSTALL is [`InstallOutcome::NotAnInstall`].
    ///
    /// # Errors
    ///
    /// [`InstallError`] when a store or the token endpoint fails; nothing is lost (a pending
    /// install stays pending), and handling the event again is safe.
    pub async fn handle(&self, event: &Event) -> Result<InstallOutcome, InstallError> {
        match event {
            Event::Install(install) => {
                let company = install.company_id.as_deref().filter(|c| !c.is_empty());
                let location = install.location_id.as_deref().filter(|l| !l.is_empty());
                match (company, location) {
                    (Some(company), Some(location)) => self.install(company, location).await,
                    (Some(company), None) => {
                        let completed = self.agency_installed(company).await?;
                        Ok(InstallOutcome::NothingToMint {
                            completed: completed.len(),
                        })
                    }
                    (None, _) => Ok(InstallOutcome::NothingToMint { completed: 0 }),
                }
            }
            Event::Uninstall(uninstall) => {
                let company = uninstall.company_id.as_deref().filter(|c| !c.is_empty());
                let location = uninstall.location_id.as_deref().filter(|l| !l.is_empty());
                let resource = match (location, company) {
                    (Some(location), company) => {
                        if let Some(company) = company {
                            self.pending
                                .remove(company, location)
                                .await
                                .map_err(InstallError::Pending)?;
                        }
                        Resource::Location(location.to_owned())
                    }
                    (None, Some(company)) => {
                        self.pending
                            .take_all(company)
                            .await
                            .map_err(InstallError::Pending)?;
                        Resource::Company(company.to_owned())
                    }
                    (None, None) => return Ok(InstallOutcome::NotAnInstall),
                };
                self.app.forget(resource.clone()).await?;
                Ok(InstallOutcome::Forgotten(resource))
            }
            _ => Ok(InstallOutcome::NotAnInstall),
        }
    }

    async fn install(&self, company: &str, location: &str) -> Result<InstallOutcome, InstallError> {
        let agency = Resource::Company(company.to_owned());
        if self.app.session(agency.clone()).await?.is_none() {
            self.pending
                .add(company, location)
                .await
                .map_err(InstallError::Pending)?;
            // The exchange may have stored the agency between the look and the add, and
            // completed the pending ones before this one was there: look again.
            if self.app.session(agency).await?.is_none() {
                return Ok(InstallOutcome::Pending {
                    company: company.to_owned(),
                    location: location.to_owned(),
                });
            }
            self.pending
                .remove(company, location)
                .await
                .map_err(InstallError::Pending)?;
        }
        self.app.location_token(company, location).await?;
        Ok(InstallOutcome::LocationTokenStored {
            company: company.to_owned(),
            location: location.to_owned(),
        })
    }

    /// Completes the installs pending under `company` now that its session is stored;
    /// returns the locations whose tokens were stored.
    ///
    /// # Errors
    ///
    /// [`InstallError`]; the locations not completed stay pending.
    pub async fn agency_installed(&self, company: &str) -> Result<Vec<String>, InstallError> {
        let pending = self
            .pending
            .take_all(company)
            .await
            .map_err(InstallError::Pending)?;
        let mut done = Vec::new();
        for (i, location) in pending.iter().enumerate() {
            if let Err(error) = self.app.location_token(company, location).await {
                for left in &pending[i..] {
                    // Best effort: the error below is what the caller acts on.
                    let _ = self.pending.add(company, left).await;
                }
                return Err(error.into());
            }
            done.push(location.clone());
        }
        Ok(done)
    }

    /// [`OAuthApp::complete_authorization`], then, for an agency, the installs that were
    /// waiting for it.
    ///
    /// # Errors
    ///
    /// As [`OAuthApp::complete_authorization`], and [`InstallError`] for the pending ones.
    pub async fn complete_authorization(
        &self,
        callback: &str,
        pending: &PendingAuthorization,
    ) -> Result<Installed, InstallError> {
        let installed = self.app.complete_authorization(callback, pending).await?;
        if let Resource::Company(company) = &installed.resource {
            self.agency_installed(company).await?;
        }
        Ok(installed)
    }
}
