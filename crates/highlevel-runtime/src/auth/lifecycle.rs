//! Keeping sessions usable: refresh ahead of expiry and after a 401, one refresh per token.
//!
//! Three layers keep a single-use refresh token from being spent twice:
//! 1. in this process, one async lock per key: concurrent callers queue behind the first,
//!    then find the new version in the store and use it;
//! 2. across processes, the store's lease: one holder calls the token endpoint, the others
//!    poll the store until the version moves;
//! 3. the store's compare-and-swap: tokens are written only over the version they were
//!    refreshed from, so a writer whose lease expired cannot overwrite newer tokens.
//!
//! Rotated tokens are written before they are used. When that write fails they are kept in
//! `unsaved` and written before the next use of the key; every call fails meanwhile.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use secrecy::{ExposeSecret, SecretString};

use super::app::OAuthApp;
use super::endpoints::GrantError;
use super::error::AuthError;
use super::session::{Resource, Session, SessionKey, SessionStatus, unix};
use super::store::{Expected, StoreError, Versioned};
use crate::idle::{IDLE_AFTER, SweptMap};

const LEASE_POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
pub(crate) struct Lifecycle {
    /// The holder name this process uses for store leases.
    holder: Holder,
    /// Dropped once nobody holds them.
    locks: Mutex<SweptMap<SessionKey, Arc<tokio::sync::Mutex<()>>>>,
    /// Each with when it was last used; dropped after [`IDLE_AFTER`] unused.
    cache: Mutex<SweptMap<SessionKey, (Versioned, Instant)>>,
    /// Never dropped: these tokens exist nowhere else.
    unsaved: Mutex<HashMap<SessionKey, Unsaved>>,
    /// When a refresh last failed to cure a key's 401; dropped after [`IDLE_AFTER`] (or
    /// the cooldown, if longer).
    uncured: Mutex<SweptMap<SessionKey, Instant>>,
}

/// Rotated tokens a store write failed to keep, with what the write must replace.
#[derive(Clone)]
struct Unsaved {
    session: Session,
    /// The version they were renewed from (`None`: the key was empty).
    base: Option<u64>,
    /// The refresh token spent to get them, when they came from a refresh.
    spent: Option<SecretString>,
}

struct Holder(String);

impl Default for Holder {
    fn default() -> Self {
        Self(format!(
            "{}-{}",
            std::process::id(),
            crate::random::unique_hex()
        ))
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a single map operation.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Lifecycle {
    pub(crate) fn remember(&self, key: &SessionKey, versioned: Versioned) {
        let now = Instant::now();
        locked(&self.cache).insert(key.clone(), (versioned, now), |_, (_, used)| {
            now.duration_since(*used) < IDLE_AFTER
        });
    }

    pub(crate) fn forget(&self, key: &SessionKey) {
        locked(&self.cache).remove(key);
        locked(&self.unsaved).remove(key);
    }

    fn cached(&self, key: &SessionKey) -> Option<Versioned> {
        let mut cache = locked(&self.cache);
        let (versioned, used) = cache.get_mut(key)?;
        *used = Instant::now();
        Some(versioned.clone())
    }

    fn lock_for(&self, key: &SessionKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = locked(&self.locks);
        let lock = locks.entry_or_insert_with(key.clone(), Default::default, |_, held| {
            Arc::strong_count(held) > 1
        });
        Arc::clone(lock)
    }
}

impl OAuthApp {
    fn lifecycle(&self) -> &Lifecycle {
        &self.inner.lifecycle
    }

    fn usable(&self, versioned: &Versioned) -> bool {
        !versioned.session.needs_reauthorization()
            && !versioned
                .session
                .expires_within(self.inner.config.refresh_skew)
    }

    /// A session whose access token is good for at least the refresh skew.
    pub(crate) async fn current(
        &self,
        resource: &Resource,
        company: Option<&str>,
    ) -> Result<Versioned, AuthError> {
        let key = self.key(resource.clone());
        self.write_unsaved(&key).await?;
        if let Some(cached) = self.lifecycle().cached(&key)
            && self.usable(&cached)
        {
            return Ok(cached);
        }
        let stored = self.store().get(&key).await?;
        match stored {
            Some(v) if v.session.needs_reauthorization() => Err(reauthorization(resource, &v)),
            Some(v) if self.usable(&v) => {
                self.lifecycle().remember(&key, v.clone());
                Ok(v)
            }
            stale => {
                let stale_version = stale.map(|v| v.version);
                Box::pin(self.renew(&key, stale_version, company)).await
            }
        }
    }

    /// After a 401 for `used`: the session to retry with, or `None` when a refresh recently
    /// failed to cure this resource's 401s (so the 401 is not about expiry) and the call
    /// should fail as it is.
    pub(crate) async fn after_unauthorized(
        &self,
        resource: &Resource,
        company: Option<&str>,
        used: &Versioned,
    ) -> Result<Option<Versioned>, AuthError> {
        let key = self.key(resource.clone());
        let cooling = locked(&self.lifecycle().uncured)
            .get(&key)
            .is_some_and(|at| at.elapsed() < self.inner.config.unauthorized_cooldown);
        if cooling {
            tracing::debug!(%key, "oauth: 401 again after a refresh did not cure one; not refreshing");
            return Ok(None);
        }
        Box::pin(self.renew(&key, Some(used.version), company))
            .await
            .map(Some)
    }

    /// The retry after a refresh got a 401 too: the token was not the problem.
    pub(crate) fn refresh_did_not_cure(&self, resource: &Resource) {
        let key = self.key(resource.clone());
        tracing::debug!(%key, "oauth: 401 after a refresh; pausing 401 refreshes");
        let now = Instant::now();
        let kept_for = self.inner.config.unauthorized_cooldown.max(IDLE_AFTER);
        locked(&self.lifecycle().uncured)
            .insert(key, now, |_, at| now.duration_since(*at) < kept_for);
    }

    /// Replaces the session at `stale` (or creates it when `stale` is `None`), unless someone
    /// already did: single flight in this process, leased across processes.
    async fn renew(
        &self,
        key: &SessionKey,
        stale: Option<u64>,
        company: Option<&str>,
    ) -> Result<Versioned, AuthError> {
        let lock = self.lifecycle().lock_for(key);
        let _in_process = lock.lock().await;
        let started = Instant::now();
        loop {
            let stored = self.store().get(key).await?;
            if let Some(done) = self.renewed_elsewhere(key, stored, stale)? {
                return Ok(done);
            }
            let holder = &self.lifecycle().holder.0;
            if self
                .store()
                .try_lease(key, holder, self.inner.config.lease_ttl)
                .await?
            {
                let result = self.renew_leased(key, stale, company).await;
                if let Err(e) = self.store().release(key, holder).await {
                    // The lease expires on its own; the refresh itself is done.
                    tracing::warn!(%key, error = %e, "oauth: could not release the refresh lease");
                }
                return result;
            }
            if started.elapsed() > self.inner.config.lease_wait {
                return Err(AuthError::LeaseTimeout {
                    resource: key.resource.clone(),
                    waited: started.elapsed(),
                });
            }
            tracing::trace!(%key, "oauth: another process is refreshing; waiting");
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// `stored` if it moved past `stale` and is usable.
    fn renewed_elsewhere(
        &self,
        key: &SessionKey,
        stored: Option<Versioned>,
        stale: Option<u64>,
    ) -> Result<Option<Versioned>, AuthError> {
        match stored {
            Some(v) if v.session.needs_reauthorization() => Err(reauthorization(&key.resource, &v)),
            Some(v) if Some(v.version) != stale && self.usable(&v) => {
                self.lifecycle().remember(key, v.clone());
                Ok(Some(v))
            }
            _ => Ok(None),
        }
    }

    async fn renew_leased(
        &self,
        key: &SessionKey,
        stale: Option<u64>,
        company: Option<&str>,
    ) -> Result<Versioned, AuthError> {
        // Someone may have finished between our last read and taking the lease.
        let current = self.store().get(key).await?;
        if let Some(done) = self.renewed_elsewhere(key, current.clone(), stale)? {
            return Ok(done);
        }
        let base = current.as_ref().map(|v| v.version);
        let Some(current) = current else {
            return self.mint(key, company, None).await;
        };
        let session = &current.session;
        let agency = session.company_id.as_deref().or(company);
        let Some(refresh_token) = &session.refresh_token else {
            return match (&key.resource, agency) {
                (Resource::Location(_), Some(agency)) => self.mint(key, Some(agency), base).await,
                _ => {
                    self.mark_reauthorization(key, &current, "no refresh token stored")
                        .await
                }
            };
        };
        tracing::debug!(%key, version = current.version, "oauth: refreshing");
        match self
            .endpoints()
            .refresh(refresh_token, session.user_type)
            .await
        {
            Ok(granted) => {
                let mut fresh = granted.session;
                fresh.company_id = fresh.company_id.or_else(|| session.company_id.clone());
                fresh.location_id = fresh.location_id.or_else(|| session.location_id.clone());
                fresh.minted_from_agency = session.minted_from_agency;
                self.save_rotated(key, fresh, base, Some(refresh_token))
                    .await
            }
            Err(GrantError::InvalidGrant(reason)) => {
                // A location minted from its agency can be minted again; anything else
                // needs its admin.
                if let (Resource::Location(_), true, Some(agency)) =
                    (&key.resource, session.minted_from_agency, agency)
                {
                    tracing::info!(%key, "oauth: refresh refused; minting from the agency again");
                    return self.mint(key, Some(agency), base).await;
                }
                self.mark_reauthorization(key, &current, &reason).await
            }
            Err(GrantError::Other(e)) => Err(e),
        }
    }

    /// Mints `key`'s location token from `company`'s agency token and stores it over `base`.
    async fn mint(
        &self,
        key: &SessionKey,
        company: Option<&str>,
        base: Option<u64>,
    ) -> Result<Versioned, AuthError> {
        let (Resource::Location(location), Some(company)) = (&key.resource, company) else {
            return Err(AuthError::NotInstalled {
                resource: key.resource.clone(),
            });
        };
        let granted = self
            .with_agency_token(company, |token| async move {
                self.endpoints()
                    .location_token(&token, company, location)
                    .await
            })
            .await?;
        tracing::debug!(%key, "oauth: minted a location token from the agency token");
        self.save_rotated(key, granted.session, base, None).await
    }

    /// Calls an agency endpoint with `company`'s access token; after a 401, once more with a
    /// renewed one (the agency's session follows the same lifecycle as any other).
    pub(crate) async fn with_agency_token<T, F, Fut>(
        &self,
        company: &str,
        call: F,
    ) -> Result<T, AuthError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, GrantError>>,
    {
        let resource = Resource::Company(company.to_owned());
        let mut agency = self.current(&resource, None).await?;
        let mut retried = false;
        loop {
            match call(agency.session.access_token.clone()).await {
                Ok(answer) => return Ok(answer),
                Err(GrantError::Other(AuthError::Endpoint(e)))
                    if e.status() == http::StatusCode::UNAUTHORIZED && !retried =>
                {
                    retried = true;
                    match self.after_unauthorized(&resource, None, &agency).await? {
                        Some(renewed) => agency = renewed,
                        None => return Err(AuthError::Endpoint(e)),
                    }
                }
                Err(GrantError::Other(e)) => return Err(e),
                Err(GrantError::InvalidGrant(reason)) => {
                    return Err(AuthError::ReauthorizationNeeded { resource, reason });
                }
            }
        }
    }

    /// Stores freshly issued tokens over `base` (renewed with `spent`, when a refresh);
    /// keeps them in memory if the store fails.
    async fn save_rotated(
        &self,
        key: &SessionKey,
        session: Session,
        base: Option<u64>,
        spent: Option<&SecretString>,
    ) -> Result<Versioned, AuthError> {
        match self.write_rotated(key, &session, base, spent).await {
            Ok(version) => {
                let saved = Versioned { session, version };
                self.lifecycle().remember(key, saved.clone());
                tracing::debug!(%key, version, "oauth: stored new tokens");
                Ok(saved)
            }
            Err(source) => {
                tracing::error!(%key, error = %source, "oauth: new tokens not stored; kept in memory");
                let unsaved = Unsaved {
                    session,
                    base,
                    spent: spent.cloned(),
                };
                locked(&self.lifecycle().unsaved).insert(key.clone(), unsaved);
                Err(AuthError::RotatedTokensNotSaved {
                    resource: key.resource.clone(),
                    source,
                })
            }
        }
    }

    /// Writes rotated tokens over `base`. On a conflict, tokens renewed by spending `spent`
    /// still replace a session marked for re-authorization meanwhile by a process HighLevel
    /// refused that same refresh token ([`Self::over_a_stale_mark`]): they are the live ones.
    async fn write_rotated(
        &self,
        key: &SessionKey,
        session: &Session,
        base: Option<u64>,
        spent: Option<&SecretString>,
    ) -> Result<u64, StoreError> {
        let expected = base.map_or(Expected::Absent, Expected::Version);
        let written = self.store().put(key, session, expected).await;
        match (written, spent) {
            (Err(StoreError::Conflict { .. }), Some(spent)) => {
                self.over_a_stale_mark(key, session, spent).await
            }
            (written, _) => written,
        }
    }

    /// After a conflict writing tokens renewed by spending the refresh token `spent`: when
    /// the store now holds a session with that same refresh token marked for
    /// re-authorization, the mark came from a process whose lease began after this one's ran
    /// out (HighLevel refused it the refresh token this process had just spent), and these
    /// tokens, the only live ones, replace it. Any other newer session (a new install, a
    /// renewal this process did not race) stands.
    async fn over_a_stale_mark(
        &self,
        key: &SessionKey,
        session: &Session,
        spent: &SecretString,
    ) -> Result<u64, StoreError> {
        let conflict = || StoreError::Conflict { key: key.clone() };
        let Some(stored) = self.store().get(key).await? else {
            return Err(conflict());
        };
        let marked_for_spent = stored.session.needs_reauthorization()
            && stored
                .session
                .refresh_token
                .as_ref()
                .is_some_and(|t| t.expose_secret() == spent.expose_secret());
        if !marked_for_spent {
            return Err(conflict());
        }
        tracing::info!(%key, "oauth: replacing a re-authorization mark made by a process that lost the refresh race");
        self.store()
            .put(key, session, Expected::Version(stored.version))
            .await
    }

    /// Writes tokens a failed store write left in memory, before anything else uses the key.
    async fn write_unsaved(&self, key: &SessionKey) -> Result<(), AuthError> {
        if !locked(&self.lifecycle().unsaved).contains_key(key) {
            return Ok(());
        }
        let lock = self.lifecycle().lock_for(key);
        let _in_process = lock.lock().await;
        let Some(unsaved) = locked(&self.lifecycle().unsaved).get(key).cloned() else {
            return Ok(());
        };
        let Unsaved {
            session,
            base,
            spent,
        } = unsaved;
        match self
            .write_rotated(key, &session, base, spent.as_ref())
            .await
        {
            Ok(version) => {
                locked(&self.lifecycle().unsaved).remove(key);
                self.lifecycle()
                    .remember(key, Versioned { session, version });
                tracing::info!(%key, version, "oauth: stored tokens kept since a failed write");
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => {
                // The store moved on to tokens of its own (a new install, or this very write
                // when its answer was lost); ours are outdated or already there.
                locked(&self.lifecycle().unsaved).remove(key);
                Ok(())
            }
            Err(source) => Err(AuthError::RotatedTokensNotSaved {
                resource: key.resource.clone(),
                source,
            }),
        }
    }

    async fn mark_reauthorization(
        &self,
        key: &SessionKey,
        current: &Versioned,
        reason: &str,
    ) -> Result<Versioned, AuthError> {
        let mut marked = current.session.clone();
        marked.status = SessionStatus::NeedsReauthorization {
            reason: reason.to_owned(),
            at_unix: unix(SystemTime::now()),
        };
        tracing::warn!(%key, reason, "oauth: refresh token refused; the app must be installed again");
        match self
            .store()
            .put(key, &marked, Expected::Version(current.version))
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => {
                // Another process renewed the session meanwhile (its lease began after this
                // one's ran out): the refusal was of the refresh token it spent, not of the
                // install.
                let stored = self.store().get(key).await?;
                if let Some(renewed) = self.renewed_elsewhere(key, stored, Some(current.version))? {
                    tracing::info!(%key, "oauth: refresh token refused after another process renewed it; using theirs");
                    return Ok(renewed);
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.lifecycle().forget(key);
        Err(AuthError::ReauthorizationNeeded {
            resource: key.resource.clone(),
            reason: reason.to_owned(),
        })
    }
}

fn reauthorization(resource: &Resource, stored: &Versioned) -> AuthError {
    let reason = match &stored.session.status {
        SessionStatus::NeedsReauthorization { reason, .. } => reason.clone(),
        SessionStatus::Active => String::new(),
    };
    AuthError::ReauthorizationNeeded {
        resource: resource.clone(),
        reason,
    }
}

/// Which resource's token an operation needs, given what the handle is scoped to.
pub(crate) fn resource_for(
    location: Option<&str>,
    company: Option<&str>,
    accepts_location: bool,
    accepts_agency: bool,
) -> Result<Resource, AuthError> {
    match (location, company) {
        (Some(location), _) if accepts_location => Ok(Resource::Location(location.to_owned())),
        (_, Some(company)) if accepts_agency => Ok(Resource::Company(company.to_owned())),
        (Some(location), None) => Err(AuthError::NoAgencyForOperation {
            location_id: location.to_owned(),
        }),
        (None, Some(company)) => Err(AuthError::NoLocationForOperation {
            company_id: company.to_owned(),
        }),
        (None, None) => Err(AuthError::NotScoped),
        // Scoped to both and the operation takes neither token kind: ask for the agency one.
        (Some(_), Some(company)) => Ok(Resource::Company(company.to_owned())),
    }
}
