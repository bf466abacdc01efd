//! Redis and PostgreSQL servers a test owns: started on a free loopback port, optionally with
//! TLS on certificates generated for the test, killed and started again on the same port and
//! data (so a test can take the database away mid-run), and stopped when dropped.
//!
//! The test command installs the servers and names PostgreSQL's binaries in
//! `HIGHLEVEL_TEST_POSTGRES_BIN`; `redis-server` and `openssl` come from the `PATH`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const DATABASE: &str = "highlevel_test";
const DB_USER: &str = "highlevel";

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A fresh directory under the system temp dir, removed by its owner's `Drop`.
fn scratch_dir(what: &str) -> Result<PathBuf, String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("highlevel-test-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn wait_until(what: &str, log: &Path, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < READY_TIMEOUT {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    Err(format!(
        "{what} did not come up in {READY_TIMEOUT:?}; its log:\n{log}"
    ))
}

/// A certificate authority and a server certificate for `127.0.0.1` and `localhost`, made
/// with the `openssl` command in a directory of their own.
#[derive(Debug)]
pub struct Certificates {
    dir: PathBuf,
    /// The authority's certificate (PEM): what a client trusts.
    pub ca_cert: PathBuf,
    /// The server's certificate (PEM), signed by the authority.
    pub server_cert: PathBuf,
    /// The server's private key (PEM).
    pub server_key: PathBuf,
}

impl Certificates {
    /// Generates a new authority and server certificate.
    ///
    /// # Errors
    ///
    /// When `openssl` is missing or fails.
    pub fn generate() -> Result<Self, String> {
        let dir = scratch_dir("certs")?;
        let path = |name: &str| dir.join(name);
        let openssl = |args: &[&str]| {
            run(
                Command::new("openssl").args(args).current_dir(&dir),
                &format!("openssl {}", args.first().copied().unwrap_or_default()),
            )
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=highlevel test authority",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ])?;
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ])?;
        std::fs::write(
            path("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
             basicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ])?;
        Ok(Self {
            ca_cert: path("ca.pem"),
            server_cert: path("server.pem"),
            server_key: path("server.key"),
            dir,
        })
    }

    /// The authority's certificate, PEM.
    ///
    /// # Errors
    ///
    /// When the file cannot be read.
    pub fn ca_pem(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.ca_cert).map_err(|e| e.to_string())
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `redis-server` of the test's own. Data is kept in an append-only file written on every
/// command, so a killed and restarted server still holds what it had acknowledged.
#[derive(Debug)]
pub struct RedisServer {
    dir: PathBuf,
    port: u16,
    tls: Option<[PathBuf; 3]>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port; with `tls`, it accepts TLS only.
    ///
    /// # Errors
    ///
    /// When `redis-server` is missing or does not come up.
    pub fn start(tls: Option<&Certificates>) -> Result<Self, String> {
        let mut server = Self {
            dir: scratch_dir("redis")?,
            port: free_port()?,
            tls: tls.map(|c| {
                [
                    c.server_cert.clone(),
                    c.server_key.clone(),
                    c.ca_cert.clone(),
                ]
            }),
            child: None,
        };
        server.restart()?;
        Ok(server)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`, or `rediss://` when it speaks TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// Kills the server with SIGKILL: no shutdown, connections reset.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again (killing it first if it runs) on the same port and data, and
    /// waits until it answers.
    ///
    /// # Errors
    ///
    /// When it does not come up.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        let log = self.dir.join("redis.log");
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--daemonize", "no", "--logfile"])
            .arg(&log)
            .arg("--dir")
            .arg(&self.dir);
        match &self.tls {
            None => {
                command.args(["--port", &self.port.to_string()]);
            }
            Some([cert, key, ca]) => {
                command
                    .args(["--port", "0", "--tls-port", &self.port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(cert)
                    .arg("--tls-key-file")
                    .arg(key)
                    .arg("--tls-ca-cert-file")
                    .arg(ca)
                    .args(["--tls-auth-clients", "no"]);
            }
        }
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        self.child = Some(child);
        let port = self.port;
        let tls = self.tls.is_some();
        wait_until("redis-server", &log, || {
            if tls {
                // A TLS port cannot be PINGed in clear; the log says when it listens.
                std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Ready to accept"))
            } else {
                redis_answers(port)
            }
        })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

/// A PostgreSQL cluster of the test's own, with database `highlevel_test` and user
/// `highlevel` (trusted from loopback). With TLS it accepts TLS connections only.
#[derive(Debug)]
pub struct PostgresServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    tls: bool,
    running: bool,
}

impl PostgresServer {
    /// Makes a cluster and starts it on a free loopback port.
    ///
    /// # Errors
    ///
    /// When `HIGHLEVEL_TEST_POSTGRES_BIN` is unset, or the cluster cannot be made or started.
    pub fn start(tls: Option<&Certificates>) -> Result<Self, String> {
        let bin = std::env::var_os("HIGHLEVEL_TEST_POSTGRES_BIN")
            .map(PathBuf::from)
            .ok_or("HIGHLEVEL_TEST_POSTGRES_BIN is not set (the test command sets it)")?;
        let dir = scratch_dir("postgres")?;
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        if let Some(certs) = tls {
            for (from, to) in [
                (&certs.server_cert, "server.pem"),
                (&certs.server_key, "server.key"),
            ] {
                std::fs::copy(from, dir.join(to)).map_err(|e| e.to_string())?;
            }
        }
        if is_root() {
            run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
                "chown",
            )?;
        }
        if tls.is_some() {
            // PostgreSQL refuses a key others can read.
            run(
                Command::new("chmod")
                    .arg("0600")
                    .arg(dir.join("server.key")),
                "chmod",
            )?;
        }
        run(
            as_postgres_user(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", DB_USER, "-E", "UTF8", "--no-sync"]),
            "initdb",
        )?;
        let mut server = Self {
            dir,
            bin,
            port: free_port()?,
            tls: tls.is_some(),
            running: false,
        };
        if server.tls {
            let hba = "hostssl all all 127.0.0.1/32 trust\n";
            std::fs::write(data.join("pg_hba.conf"), hba).map_err(|e| e.to_string())?;
        }
        server.restart()?;
        run(
            Command::new(server.bin.join("createdb"))
                .args(["-h", "127.0.0.1", "-p", &server.port.to_string()])
                .args(["-U", DB_USER, DATABASE])
                .env("PGSSLMODE", if server.tls { "require" } else { "disable" }),
            "createdb",
        )?;
        Ok(server)
    }

    /// `postgres://highlevel@127.0.0.1:<port>/highlevel_test`, with `sslmode=require` when it
    /// speaks TLS.
    pub fn url(&self) -> String {
        let tls = if self.tls { "?sslmode=require" } else { "" };
        format!(
            "postgres://{DB_USER}@127.0.0.1:{}/{DATABASE}{tls}",
            self.port
        )
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: no checkpoint, connections cut,
    /// committed data kept).
    pub fn kill(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["stop", "-m", "immediate", "-s"]);
            self.running = false;
        }
    }

    /// Starts the server again (stopping it first if it runs) on the same port and data, and
    /// waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// When it does not come up.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off \
             -c full_page_writes=off",
            self.port
        );
        if self.tls {
            let cert = self.dir.join("server.pem");
            let key = self.dir.join("server.key");
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            ));
        }
        let log = self.dir.join("postgres.log");
        let log_arg = log.display().to_string();
        self.pg_ctl(&["-l", &log_arg, "-o", &options, "-w", "-s", "start"])
            .map_err(|e| {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                format!("{e}\n{log}")
            })?;
        self.running = true;
        Ok(())
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        run(
            as_postgres_user(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(args),
            "pg_ctl",
        )
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PostgreSQL refuses to run as root: as root, its tools run as the `postgres` user the
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
