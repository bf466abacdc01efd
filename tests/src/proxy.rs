//! A TCP proxy on 127.0.0.1 in front of a real server (Redis, PostgreSQL, the sandbox), with
//! faults a test switches while it runs: pass bytes through, delay them, hold the chunk that
//! carries a given byte pattern (a Redis command, a SQL statement, a form field), cut every
//! open connection, refuse new ones.
//!
//! Faults act on the client→server direction; answers always flow. A held chunk holds
//! everything behind it on its connection, as a stalled network does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A proxy listening on a free loopback port; stopped (its connections cut) when dropped.
#[derive(Debug)]
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    target: SocketAddr,
    faults: Mutex<Faults>,
    /// Bumped to cut every open connection.
    cut: watch::Sender<u64>,
    accepted: AtomicU64,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct Faults {
    refuse: bool,
    delay: Option<Duration>,
    /// Armed holds, each waiting for the first chunk that carries its pattern.
    holds: Vec<Arc<HoldState>>,
}

#[derive(Debug)]
struct HoldState {
    pattern: Vec<u8>,
    /// Released on its own after this long (else only by [`Hold::release`]).
    at_most: Option<Duration>,
    reached: watch::Sender<bool>,
    released: watch::Sender<bool>,
}

/// A hold armed by [`Proxy::hold_next`] or [`Proxy::hold_next_for`]: the first client→server
/// chunk carrying its pattern (and everything behind it on that connection) waits until it is
/// released.
#[derive(Debug, Clone)]
pub struct Hold(Arc<HoldState>);

impl Hold {
    /// Waits until a chunk carrying the pattern arrived and is being held.
    pub async fn reached(&self) {
        let mut reached = self.0.reached.subscribe();
        // The sender lives in `self`, so the wait cannot fail.
        let _ = reached.wait_for(|r| *r).await;
    }

    /// Whether a chunk carrying the pattern arrived.
    pub fn is_reached(&self) -> bool {
        *self.0.reached.borrow()
    }

    /// Waits until the held chunk went on (released by hand, after its time, or cut).
    pub async fn released(&self) {
        let mut released = self.0.released.subscribe();
        let _ = released.wait_for(|r| *r).await;
    }

    /// Lets the held chunk (or the next one carrying the pattern) through.
    pub fn release(&self) {
        self.0.released.send_replace(true);
    }
}

fn locked(faults: &Mutex<Faults>) -> MutexGuard<'_, Faults> {
    // Every critical section is a few field updates.
    faults.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards each connection to `target`.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            faults: Mutex::new(Faults::default()),
            cut: watch::Sender::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Self {
            address,
            shared,
            accept,
        })
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Back to plain forwarding: no delay, no refusal, armed holds dropped and held chunks
    /// released.
    pub fn pass(&self) {
        let mut faults = locked(&self.shared.faults);
        faults.refuse = false;
        faults.delay = None;
        for hold in faults.holds.drain(..) {
            hold.released.send_replace(true);
        }
    }

    /// Holds every client→server chunk for `delay` before forwarding it.
    pub fn delay(&self, delay: Duration) {
        locked(&self.shared.faults).delay = Some(delay);
    }

    /// Holds the next client→server chunk that carries `pattern` until [`Hold::release`].
    pub fn hold_next(&self, pattern: &[u8]) -> Hold {
        self.arm(pattern, None)
    }

    /// Holds the next client→server chunk that carries `pattern` for `duration` (or until
    /// [`Hold::release`]).
    pub fn hold_next_for(&self, pattern: &[u8], duration: Duration) -> Hold {
        self.arm(pattern, Some(duration))
    }

    fn arm(&self, pattern: &[u8], at_most: Option<Duration>) -> Hold {
        let state = Arc::new(HoldState {
            pattern: pattern.to_vec(),
            at_most,
            reached: watch::Sender::new(false),
            released: watch::Sender::new(false),
        });
        locked(&self.shared.faults).holds.push(Arc::clone(&state));
        Hold(state)
    }

    /// Closes every open connection (held chunks are dropped, not forwarded).
    pub fn drop_connections(&self) {
        self.shared.cut.send_modify(|generation| *generation += 1);
    }

    /// While `refuse`, new connections are closed as soon as they are accepted.
    pub fn refuse(&self, refuse: bool) {
        locked(&self.shared.faults).refuse = refuse;
    }

    /// Connections accepted and forwarded so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Connections closed on arrival while refusing.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.pass();
        self.drop_connections();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors, say: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if locked(&shared.faults).refuse {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            drop(client);
            continue;
        }
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        // Subscribed before the task runs, so a cut right after the accept reaches it.
        let cut = shared.cut.subscribe();
        tokio::spawn(connection(Arc::clone(&shared), client, cut));
    }
}

async fn connection(shared: Arc<Shared>, client: TcpStream, mut cut: watch::Receiver<u64>) {
    let server = tokio::select! {
        connected = TcpStream::connect(shared.target) => connected,
        _ = cut.changed() => return,
    };
    // The server is down: the client sees its connection closed, as with a dead server.
    let Ok(server) = server else { return };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Either side closing (or a cut) ends both directions.
    tokio::select! {
        () = upstream(&shared, client_read, server_write) => {}
        () = downstream(server_read, client_write) => {}
        _ = cut.changed() => {}
    }
}

/// The longest tail of earlier bytes kept so that a pattern split across chunks is found.
const TAIL: usize = 4096;

async fn upstream(shared: &Shared, mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut window: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let chunk = buffer.get(..n).unwrap_or_default();
        window.extend_from_slice(chunk);
        let (delay, hold) = {
            let mut faults = locked(&shared.faults);
            let hold = faults
                .holds
                .iter()
                .position(|h| contains(&window, &h.pattern))
                .map(|i| faults.holds.remove(i));
            (faults.delay, hold)
        };
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(hold) = hold {
            hold.reached.send_replace(true);
            // Marks the hold released however it ends, a cut included.
            let hold = Releasing(hold);
            let mut released = hold.0.released.subscribe();
            let wait = released.wait_for(|r| *r);
            match hold.0.at_most {
                Some(at_most) => drop(tokio::time::timeout(at_most, wait).await),
                None => drop(wait.await),
            }
            drop(hold);
            // Whatever matched is spent: a second hold must see new bytes.
            window.clear();
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
        if window.len() > TAIL {
            window.drain(..window.len() - TAIL);
        }
    }
}

struct Releasing(Arc<HoldState>);

impl Drop for Releasing {
    fn drop(&mut self) {
        self.0.released.send_replace(true);
    }
}

async fn downstream(mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
    let _ = tokio::io::copy(&mut from, &mut to).await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
