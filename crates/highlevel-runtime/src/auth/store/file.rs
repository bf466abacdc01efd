//! Sessions as files: one JSON document per key, replaced atomically, readable only by the
//! owner.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Expected, StoreError, StoreFuture, TokenStore, Versioned};
use crate::auth::session::{Resource, Session, SessionKey};

const STORE: &str = "file";
/// A `.lock` older than this was left by a process that died holding it.
const STALE_LOCK: Duration = Duration::from_secs(10);
const LOCK_WAIT: Duration = Duration::from_secs(10);
const LOCK_POLL: Duration = Duration::from_millis(2);

/// Sessions in a directory: `<dir>/<app>/<location|company>-<id>.json`.
///
/// Each write goes to a temporary file (mode 0600) that replaces the session by `rename`,
/// so a reader sees the old or the new session, never half of one. Versions and leases are
/// guarded by a per-key lock file created with `O_EXCL`, which several processes on one
/// machine (or on one NFSv3+ share) respect.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir`, created (mode 0700) on first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory it writes to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, key: &SessionKey) -> KeyPaths {
        let (kind, id) = match &key.resource {
            Resource::Location(id) => ("location", id),
            Resource::Company(id) => ("company", id),
        };
        let folder = self.dir.join(file_safe(&key.app));
        let stem = format!("{kind}-{}", file_safe(id));
        KeyPaths {
            session: folder.join(format!("{stem}.json")),
            lock: folder.join(format!("{stem}.lock")),
            lease: folder.join(format!("{stem}.lease")),
            folder,
        }
    }
}

struct KeyPaths {
    folder: PathBuf,
    session: PathBuf,
    lock: PathBuf,
    lease: PathBuf,
}

/// Ids are HighLevel's alphanumerics; anything else is escaped so that no id can name a
/// path outside the store (`../`) or collide with another id.
fn file_safe(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("-{b:02x}"));
        }
    }
    if out.is_empty() {
        out.push_str("-empty");
    }
    out
}

fn io_error(error: io::Error) -> StoreError {
    StoreError::backend(STORE, error)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::backend(STORE, e))?
}

/// Held while a key's version or lease is read and changed.
///
/// The lock is a file created with `O_EXCL` that holds a token unique to this acquisition.
/// A process that dies holding it leaves it behind; once it is older than [`STALE_LOCK`]
/// another process breaks it (see [`break_if_stale`]). Like any lock that expires, this
/// assumes no live process holds a lock, or a claim, for [`STALE_LOCK`]: the sections it
/// guards are a read and a write of one small file.
struct KeyLock {
    path: PathBuf,
    token: String,
}

impl KeyLock {
    fn acquire(paths: &KeyPaths) -> Result<Self, StoreError> {
        create_private_dir(&paths.folder)?;
        let started = std::time::Instant::now();
        loop {
            match create_exclusive(&paths.lock) {
                Ok(token) => {
                    return Ok(Self {
                        path: paths.lock.clone(),
                        token,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if break_if_stale(&paths.lock, 0).map_err(io_error)? {
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        return Err(StoreError::backend(
                            STORE,
                            format!("{} stayed locked for {LOCK_WAIT:?}", paths.lock.display()),
                        ));
                    }
                    std::thread::sleep(LOCK_POLL);
                }
                Err(e) => return Err(io_error(e)),
            }
        }
    }
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        // Only our own lock: had we overrun STALE_LOCK, the file may be another process's
        // by now, and removing it would let a third one in beside it.
        if read_instance(&self.path).is_ok_and(|held| held.is_some_and(|(t, _)| t == self.token)) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// How many claims deep [`break_if_stale`] goes: a stale claim (its breaker died in the
/// few instructions between taking it and giving it back) is broken once more; two such
/// deaths in a row leave the key locked, which [`KeyLock::acquire`] reports after
/// [`LOCK_WAIT`] with the lock's path, for an operator to remove.
const MAX_CLAIM_DEPTH: usize = 1;

/// Creates `path` with `O_EXCL` (mode 0600) and writes a fresh token into it.
fn create_exclusive(path: &Path) -> io::Result<String> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let token = crate::random::unique_hex();
    if let Err(e) = file.write_all(token.as_bytes()) {
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(token)
}

/// The token in a lock or claim file and whether the file is stale, both read through one
/// open handle so that they describe the same file; `None` when there is no file.
fn read_instance(path: &Path) -> io::Result<Option<(String, bool)>> {
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes)?;
    // A file we cannot date (or dated in the future) is never taken for stale.
    let stale = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| at.elapsed().ok())
        .is_some_and(|age| age > STALE_LOCK);
    Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), stale)))
}

/// Removes the lock (or claim) at `path` if it is stale; `Ok(true)` when the caller should
/// try to create it again at once, `Ok(false)` when it should wait.
///
/// Removing a stale file is check-then-act: two processes that both saw the same stale lock
/// could both remove "it", the second removing the fresh lock the first had taken since,
/// and both would hold the lock. So the stale instance is removed only under a claim: a
/// second `O_EXCL` file named after the stale file's token, `<lock>.claim-<token>`.
///
/// - Of the processes that saw the stale instance with token T, only one creates the claim
///   for T; the others wait for the lock as for any held lock.
/// - Under the claim, the file at `path` is read again and removed only if it still holds T
///   and is still stale. Between that read and the removal nothing else can remove T: its
///   holder is dead (it is stale) and every other breaker of T needs the claim. So what is
///   removed is T, never a fresh lock taken in between.
/// - A fresh lock can be created only once T is gone, and tokens never repeat, so a claim
///   for T, once given back, is never needed again: a later breaker that takes it finds T
///   gone and removes nothing. For the same reason a claim left by a breaker that died
///   after removing T is harmless.
/// - A breaker that died holding the claim before removing T leaves the claim stale; it is
///   broken by the same steps one level down (its own claim is named after its token).
fn break_if_stale(path: &Path, depth: usize) -> io::Result<bool> {
    let Some((token, stale)) = read_instance(path)? else {
        return Ok(true);
    };
    if !stale {
        return Ok(false);
    }
    let mut claim = path.as_os_str().to_owned();
    let mut safe = file_safe(&token);
    safe.truncate(64);
    claim.push(format!(".claim-{safe}"));
    let claim = PathBuf::from(claim);
    match create_exclusive(&claim) {
        Ok(_) => {
            let removed = match read_instance(path) {
                Ok(Some((now, true))) if now == token => match fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                    _ => Ok(true),
                },
                Ok(_) => Ok(true),
                Err(e) => Err(e),
            };
            let _ = fs::remove_file(&claim);
            removed
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if depth < MAX_CLAIM_DEPTH {
                break_if_stale(&claim, depth + 1)
            } else {
                Ok(false)
            }
        }
        Err(e) => Err(e),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error)?;
    // A new folder's entry is durable only once its parent is synced; until then a crash
    // could take it, and the first session written in it, away.
    sync_parent(dir).map_err(io_error)
}

fn read_session(path: &Path, key: &SessionKey) -> Result<Option<Versioned>, StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(e)),
    };
    let (version, document) = text.split_once('\n').ok_or_else(|| StoreError::Corrupt {
        key: key.clone(),
        reason: "no version line".into(),
    })?;
    let version = version.trim().parse().map_err(|_| StoreError::Corrupt {
        key: key.clone(),
        reason: "the version line is not a number".into(),
    })?;
    let session = Session::from_store_json(document).map_err(|e| StoreError::corrupt(key, &e))?;
    Ok(Some(Versioned { session, version }))
}

/// Writes `contents` next to `target` (mode 0600) and renames it over `target`.
///
/// Durable once it returns: the data is synced before the rename (so the rename cannot
/// land on a file whose blocks never reached the disk) and the directory after it (so a
/// crash cannot undo the rename, which for a session would bring back a refresh token
/// already spent).
fn replace_atomically(target: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let tmp = target.with_extension(format!("tmp-{}", crate::random::unique_hex()));
    let written = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, target)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(io_error)?;
    sync_parent(target).map_err(io_error)
}

#[cfg(unix)]
fn sync_parent(path: &Path) -> io::Result<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    match fs::File::open(parent).and_then(|dir| dir.sync_all()) {
        // Some file systems cannot sync a directory (EINVAL); there is nothing more to do.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
}

/// Elsewhere a directory cannot be opened as a file; NTFS journals the rename itself.
#[cfg(not(unix))]
fn sync_parent(_path: &Path) -> io::Result<()> {
    Ok(())
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

impl TokenStore for FileStore {
    fn get<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<Versioned>> {
        let paths = self.paths(key);
        let key = key.clone();
        Box::pin(blocking(move || read_session(&paths.session, &key)))
    }

    fn put<'a>(
        &'a self,
        key: &'a SessionKey,
        session: &'a Session,
        expected: Expected,
    ) -> StoreFuture<'a, u64> {
        let paths = self.paths(key);
        let key = key.clone();
        let document = session.to_store_json();
        Box::pin(blocking(move || {
            let _lock = KeyLock::acquire(&paths)?;
            let current = read_session(&paths.session, &key)?.map(|v| v.version);
            let version = match (expected, current) {
                (Expected::Absent, None) => 1,
                (Expected::Version(v), Some(c)) if v == c => c + 1,
                _ => return Err(StoreError::Conflict { key }),
            };
            replace_atomically(&paths.session, format!("{version}\n{document}").as_bytes())?;
            Ok(version)
        }))
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, ()> {
        let paths = self.paths(key);
        Box::pin(blocking(move || {
            let _lock = KeyLock::acquire(&paths)?;
            for path in [&paths.session, &paths.lease] {
                match fs::remove_file(path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_error(e)),
                    _ => {}
                }
            }
            Ok(())
        }))
    }

    fn try_lease<'a>(
        &'a self,
        key: &'a SessionKey,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let paths = self.paths(key);
        let holder = holder.to_owned();
        Box::pin(blocking(move || {
            let _lock = KeyLock::acquire(&paths)?;
            let now = now_millis();
            let free = match fs::read_to_string(&paths.lease) {
                Ok(text) => {
                    let (who, until) = text.split_once('\n').unwrap_or(("", "0"));
                    who == holder || until.trim().parse::<u128>().unwrap_or(0) <= now
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => true,
                Err(e) => return Err(io_error(e)),
            };
            if free {
                let until = now + ttl.as_millis();
                replace_atomically(&paths.lease, format!("{holder}\n{until}").as_bytes())?;
            }
            Ok(free)
        }))
    }

    fn release<'a>(&'a self, key: &'a SessionKey, holder: &'a str) -> StoreFuture<'a, ()> {
        let paths = self.paths(key);
        let holder = holder.to_owned();
        Box::pin(blocking(move || {
            let _lock = KeyLock::acquire(&paths)?;
            if let Ok(text) = fs::read_to_string(&paths.lease)
                && text.split_once('\n').is_some_and(|(who, _)| who == holder)
            {
                fs::remove_file(&paths.lease).map_err(io_error)?;
            }
            Ok(())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_escape_the_store() {
        assert_eq!(file_safe("abcXYZ09_"), "abcXYZ09_");
        assert_eq!(file_safe("../x"), "-2e-2e-2fx");
        assert_eq!(file_safe(""), "-empty");
        assert_ne!(file_safe("a-b"), file_safe("a_b"));
    }
}
