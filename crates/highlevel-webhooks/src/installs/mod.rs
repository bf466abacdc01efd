//! INSTALL and UNINSTALL, so that no install is lost whatever the order of events.
//!
//! An INSTALL for a location of an agency whose session is stored mints and stores the
//! location's token at once. When the agency's code exchange has not stored its session yet
//! (HighLevel may deliver the INSTALL first), the install is kept in a [`PendingInstalls`]
//! store and completed as soon as the exchange stores the session: through
//! [`Installs::complete_authorization`], or [`Installs::agency_installed`] for an app that
//! exchanges codes elsewhere. A location installed on its own (its code exchange stores its
//! session) needs nothing minted: its INSTALL is [`InstallOutcome::NothingToMint`] once that
//! session is stored, and the exchange through [`Installs::complete_authorization`] clears it
//! from the pending ones if the INSTALL came first. UNINSTALL forgets the resource's session.
//! Both are idempotent.

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
    /// Every location pending under `company`, leaving them pending (in no particular order).
    fn list<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>>;
    /// Removes and returns every location pending under `company`, atomically (an agency
    /// uninstall).
    fn take_all<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>>;
    /// Drops `location` from `company`'s pending ones (completed, or uninstalled); dropping
    /// one that is not there is fine.
    fn remove<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()>;
}

/// A store shared behind an `Arc`, so that the app can still look at it once an
/// [`Installs`] holds it.
impl<T: PendingInstalls + ?Sized> PendingInstalls for Arc<T> {
    fn add<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        (**self).add(company, location)
    }

    fn list<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        (**self).list(company)
    }

    fn take_all<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        (**self).take_all(company)
    }

    fn remove<'a>(&'a self, company: &'a str, location: &'a str) -> PendingFuture<'a, ()> {
        (**self).remove(company, location)
    }
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

    fn list<'a>(&'a self, company: &'a str) -> PendingFuture<'a, Vec<String>> {
        let listed = self
            .lock()
            .get(company)
            .map(|locations| locations.iter().cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { Ok(listed) })
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
    /// all completed, `completed` of them), or a location install whose own code exchange
    /// stored its session (nothing is left pending for it).
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
    /// The agency's session is stored, but some of its pending locations could not be
    /// completed (every one was tried); those stay pending, and completing them again
    /// ([`Installs::agency_installed`], or the agency INSTALL's redelivery) is safe.
    Incomplete(AgencyInstallReport),
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auth(e) => write!(f, "install: {e}"),
            Self::Pending(e) => write!(f, "install: pending-installs store: {e}"),
            Self::Incomplete(report) => {
                write!(
                    f,
                    "install: {} of {} pending locations of agency {} not completed",
                    report.failed.len(),
                    report.failed.len() + report.stored.len(),
                    report.company
                )?;
                if let Some((location, error)) = report.failed.first() {
                    write!(f, " (first, {location}: {error})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Auth(e) => Some(e),
            Self::Pending(_) => None,
            Self::Incomplete(report) => report
                .failed
                .first()
                .map(|(_, e)| e as &(dyn std::error::Error + 'static)),
        }
    }
}

/// What completing an agency's pending installs did ([`Installs::agency_installed`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct AgencyInstallReport {
    /// The agency.
    pub company: String,
    /// Locations whose tokens are stored and which are no longer pending.
    pub stored: Vec<String>,
    /// Locations not completed, and why. Each is still pending, except when the
    /// pending-installs store failed to drop one whose token was stored (an
    /// [`InstallError::Pending`]; completing it again is harmless).
    pub failed: Vec<(String, InstallError)>,
}

impl AgencyInstallReport {
    /// Whether every pending location was completed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
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
    /// install stays pending), and handling the event again is safe. For an agency INSTALL,
    /// [`InstallError::Incomplete`] once every pending location was tried and some failed.
    pub async fn handle(&self, event: &Event) -> Result<InstallOutcome, InstallError> {
        match event {
            Event::Install(install) => {
                let company = install.company_id.as_deref().filter(|c| !c.is_empty());
                let location = install.location_id.as_deref().filter(|l| !l.is_empty());
                match (company, location) {
                    (Some(company), Some(location)) => self.install(company, location).await,
                    (Some(company), None) => {
                        let report = self.agency_installed(company).await?;
                        if !report.is_complete() {
                            // Answering 5xx makes HighLevel redeliver, which retries the rest.
                            return Err(InstallError::Incomplete(report));
                        }
                        Ok(InstallOutcome::NothingToMint {
                            completed: report.stored.len(),
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
        let own = Resource::Location(location.to_owned());
        // The agency first: with it stored, `location_token` keeps a location's own live
        // session and mints a missing one, so that one path serves both.
        if self.app.session(agency.clone()).await?.is_some() {
            return self.mint(company, location).await;
        }
        if self.app.session(own.clone()).await?.is_some() {
            return self.installed_on_its_own(company, location).await;
        }
        self.pending
            .add(company, location)
            .await
            .map_err(InstallError::Pending)?;
        // Either exchange may have stored its session between the looks and the add, and
        // cleared the pending ones before this one was there: look again.
        if self.app.session(agency).await?.is_some() {
            return self.mint(company, location).await;
        }
        if self.app.session(own).await?.is_some() {
            return self.installed_on_its_own(company, location).await;
        }
        Ok(InstallOutcome::Pending {
            company: company.to_owned(),
            location: location.to_owned(),
        })
    }

    /// Mints and stores `location`'s token, then drops it from the pending ones (a parked
    /// install whose agency exchange happened without [`Installs::agency_installed`]).
    async fn mint(&self, company: &str, location: &str) -> Result<InstallOutcome, InstallError> {
        self.app.location_token(company, location).await?;
        self.pending
            .remove(company, location)
            .await
            .map_err(InstallError::Pending)?;
        Ok(InstallOutcome::LocationTokenStored {
            company: company.to_owned(),
            location: location.to_owned(),
        })
    }

    async fn installed_on_its_own(
        &self,
        company: &str,
        location: &str,
    ) -> Result<InstallOutcome, InstallError> {
        self.pending
            .remove(company, location)
            .await
            .map_err(InstallError::Pending)?;
        Ok(InstallOutcome::NothingToMint { completed: 0 })
    }

    /// Completes the installs pending under `company` now that its session is stored: mints
    /// and stores each location's token, and drops a location from the pending ones only
    /// once its token is stored, so a crash or a failure part way loses none. Every pending
    /// location is tried, whatever failed before it.
    ///
    /// Two completions at once (an agency INSTALL and the code exchange) may both mint a
    /// location; the later stored session wins, and both are valid.
    ///
    /// # Errors
    ///
    /// [`InstallError::Pending`] when the pending-installs store cannot list them. A
    /// location that fails is in the report's `failed`, not an error: see
    /// [`AgencyInstallReport::is_complete`].
    pub async fn agency_installed(
        &self,
        company: &str,
    ) -> Result<AgencyInstallReport, InstallError> {
        let pending = self
            .pending
            .list(company)
            .await
            .map_err(InstallError::Pending)?;
        let mut report = AgencyInstallReport {
            company: company.to_owned(),
            stored: Vec::new(),
            failed: Vec::new(),
        };
        for location in pending {
            if let Err(error) = self.app.location_token(company, &location).await {
                report.failed.push((location, error.into()));
                continue;
            }
            match self.pending.remove(company, &location).await {
                Ok(()) => report.stored.push(location),
                Err(error) => report.failed.push((location, InstallError::Pending(error))),
            }
        }
        Ok(report)
    }

    /// [`OAuthApp::complete_authorization`], then what was waiting for the session it
    /// stored: for an agency, its pending installs ([`Installs::agency_installed`]); for a
    /// location, its own INSTALL if that came first (dropped from its agency's pending
    /// ones, as the session HighLevel sent names the agency).
    ///
    /// # Errors
    ///
    /// As [`OAuthApp::complete_authorization`]. Past the exchange the session is stored, and
    /// a later error is about what waited for it: [`InstallError::Pending`] when the
    /// pending-installs store fails, [`InstallError::Incomplete`] when some of an agency's
    /// pending locations failed (every one was tried; the report names the agency, and
    /// the failed ones stay pending for [`Installs::agency_installed`] or the agency
    /// INSTALL's redelivery).
    pub async fn complete_authorization(
        &self,
        callback: &str,
        pending: &PendingAuthorization,
    ) -> Result<Installed, InstallError> {
        let installed = self.app.complete_authorization(callback, pending).await?;
        match (&installed.resource, installed.company_id.as_deref()) {
            (Resource::Company(company), _) => {
                let report = self.agency_installed(company).await?;
                if !report.is_complete() {
                    return Err(InstallError::Incomplete(report));
                }
            }
            // Without the agency there is no pending set to look in; a parked INSTALL is
            // then cleared when its agency's pending ones are completed (its live session
            // is kept), or by an UNINSTALL.
            (Resource::Location(location), Some(company)) if !company.is_empty() => {
                self.pending
                    .remove(company, location)
                    .await
                    .map_err(InstallError::Pending)?;
            }
            _ => {}
        }
        Ok(installed)
    }
}
