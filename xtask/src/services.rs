//! Redis and PostgreSQL on loopback for the token store tests: installed from Debian's
//! packages when missing, started fresh in a temporary directory, stopped when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Result;

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const DATABASE: &str = "highlevel_test";
const DB_USER: &str = "highlevel";

/// Running servers; both stop when this is dropped.
pub struct Services {
    dir: PathBuf,
    redis: Child,
    redis_port: u16,
    postgres_bin: PathBuf,
    postgres_data: PathBuf,
    postgres_port: u16,
}

impl Services {
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.redis_port)
    }

    /// The folder of PostgreSQL's programs, for tests that run servers of their own.
    pub fn postgres_bin(&self) -> &Path {
        &self.postgres_bin
    }

    pub fn postgres_url(&self) -> String {
        format!(
            "postgres://{DB_USER}@127.0.0.1:{}/{DATABASE}",
            self.postgres_port
        )
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        stop(&mut self.redis);
        let _ = as_postgres_user(&self.postgres_bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.postgres_data)
            .args(["stop", "-m", "immediate", "-s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// SIGTERM, up to 5 s to exit, then SIGKILL.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The newest `/usr/lib/postgresql/<version>/bin`, or the folder of `pg_ctl` on the PATH.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let output = Command::new("sh")
        .args(["-c", "command -v pg_ctl"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let path = std::fs::canonicalize(path).ok()?;
    path.parent().map(Path::to_path_buf)
}

/// Installs `redis-server` and `postgresql` with apt when either is missing.
pub fn ensure_installed() -> Result<()> {
    if on_path("redis-server") && on_path("openssl") && postgres_bin().is_some() {
        return Ok(());
    }
    if !is_root() {
        return Err(
            "Redis and PostgreSQL servers are needed for the token store tests: \
                    install Debian's `redis-server`, `postgresql` and `openssl` packages (or run as root)"
                .into(),
        );
    }
    let started = Instant::now();
    let install = || {
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "redis-server",
                "postgresql",
                // The TLS tests make their certificates with it.
                "openssl",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let updated = Command::new("apt-get")
            .args(["update", "-q"])
            .status()
            .is_ok_and(|s| s.success());
        if !updated || !install() {
            return Err("apt-get could not install redis-server and postgresql".into());
        }
    }
    eprintln!(
        "    installed redis-server and postgresql in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if on_path("redis-server") && on_path("openssl") && postgres_bin().is_some() {
        Ok(())
    } else {
        Err("redis-server or the PostgreSQL server is still missing after apt-get".into())
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// PostgreSQL refuses to run as root: as root, run its tools as the `postgres` user the
/// Debian package creates.
fn as_postgres_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn wait_until(what: &str, log: &Path, mut ready: impl FnMut() -> bool) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < READY_TIMEOUT {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    Err(format!(
        "{what} did not come up in {READY_TIMEOUT:?}; its log ends:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
    .into())
}

fn redis_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}

/// Starts a fresh Redis and a fresh PostgreSQL cluster on free loopback ports.
pub fn start() -> Result<Services> {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("highlevel-services-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("redis"))?;

    let redis_port = free_port()?;
    let redis_log = dir.join("redis.log");
    let redis = Command::new("redis-server")
        .args(["--port", &redis_port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--daemonize", "no", "--logfile"])
        .arg(&redis_log)
        .arg("--dir")
        .arg(dir.join("redis"))
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server: {e}"))?;
    let postgres_bin = postgres_bin().ok_or("no PostgreSQL server binaries")?;
    let postgres_data = dir.join("postgres");
    let mut services = Services {
        dir: dir.clone(),
        redis,
        redis_port,
        postgres_bin: postgres_bin.clone(),
        postgres_data: postgres_data.clone(),
        postgres_port: 0,
    };
    wait_until("redis-server", &redis_log, || redis_answers(redis_port))?;

    std::fs::create_dir_all(&postgres_data)?;
    if is_root() {
        let owned = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()?;
        if !owned.success() {
            return Err("cannot hand the PostgreSQL directory to the postgres user".into());
        }
    }
    let init = as_postgres_user(&postgres_bin.join("initdb"))
        .arg("-D")
        .arg(&postgres_data)
        .args(["-A", "trust", "-U", DB_USER, "-E", "UTF8", "--no-sync"])
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !init.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&init.stderr)).into());
    }
    let postgres_port = free_port()?;
    services.postgres_port = postgres_port;
    let postgres_log = dir.join("postgres.log");
    let options = format!(
        "-p {postgres_port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    );
    let start = as_postgres_user(&postgres_bin.join("pg_ctl"))
        .arg("-D")
        .arg(&postgres_data)
        .arg("-l")
        .arg(&postgres_log)
        .args(["-o", &options, "-w", "-s", "start"])
        .status()
        .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
    if !start.success() {
        let log = std::fs::read_to_string(&postgres_log).unwrap_or_default();
        return Err(format!("PostgreSQL did not start:\n{log}").into());
    }
    wait_until("PostgreSQL", &postgres_log, || {
        Command::new(postgres_bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &postgres_port.to_string()])
            .args(["-U", DB_USER, DATABASE])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })?;
    eprintln!(
        "    redis on {} and PostgreSQL on {} ready in {:.1} s",
        services.redis_url(),
        services.postgres_url(),
        started.elapsed().as_secs_f64()
    );
    Ok(services)
}
