//! The conformance suite's runtime: what a generated call is, what it observed, and the Prism
//! mock it runs against.
//!
//! The calls themselves are generated (`tests/tests/conformance/calls/`); the runner is
//! `tests/tests/conformance/mod.rs`.

use std::fmt;
use std::future::Future;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use highlevel::runtime::ResponseValue;
use highlevel::{Error, HighLevel};
use serde::de::DeserializeOwned;

/// The future of one generated call.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<Outcome, ArgumentError>> + Send>>;

/// One generated operation call with arguments built from the upstream spec.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The spec set (`v2`, `v3`).
    pub set: &'static str,
    /// The module (`contacts`).
    pub module: &'static str,
    /// The upstream operation id.
    pub operation_id: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
    /// Error statuses the upstream operation declares and the suite forces with `Prefer`.
    pub forced_statuses: &'static [u16],
    /// Makes the call through the facade.
    pub run: fn(HighLevel) -> CallFuture,
}

/// Pins a generated call's future.
pub fn boxed(
    future: impl Future<Output = Result<Outcome, ArgumentError>> + Send + 'static,
) -> CallFuture {
    Box::pin(future)
}

/// An argument built from the upstream schema that the generated Rust type refuses: the
/// SDK could not send a request the spec allows.
#[derive(Debug, Clone)]
pub struct ArgumentError {
    /// The JSON value built from the spec.
    pub json: String,
    /// The Rust type it was decoded into.
    pub type_name: &'static str,
    /// Why it did not decode.
    pub reason: String,
}

impl fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "argument {} does not fit `{}`: {}",
            self.json, self.type_name, self.reason
        )
    }
}

/// Decodes a generated argument into the setter's type.
///
/// # Errors
///
/// [`ArgumentError`] when the type refuses the value.
pub fn arg<T: DeserializeOwned>(json: &str) -> Result<T, ArgumentError> {
    serde_json::from_str(json).map_err(|e| ArgumentError {
        json: json.to_owned(),
        type_name: std::any::type_name::<T>(),
        reason: e.to_string(),
    })
}

/// What one call saw.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Prism's findings about the request (`sl-violations` entries located in `request`).
    pub request_violations: Vec<String>,
    /// How the SDK reported the response.
    pub result: CallResult,
}

/// How the SDK reported a response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallResult {
    /// A decoded success.
    Decoded,
    /// The typed API error, with its status.
    Api(u16),
    /// A success body the lenient types still refused (with the JSON path).
    Decode(String),
    /// Anything else: transport, invalid request, hook.
    Other(String),
}

/// Turns what `send()` returned into an [`Outcome`].
pub fn observe<T>(response: Result<ResponseValue<T>, Error>) -> Outcome {
    match response {
        Ok(value) => Outcome {
            status: Some(value.status().as_u16()),
            request_violations: request_violations(value.headers()),
            result: CallResult::Decoded,
        },
        Err(Error::Api(api)) => Outcome {
            status: Some(api.status().as_u16()),
            request_violations: request_violations(api.headers()),
            result: CallResult::Api(api.status().as_u16()),
        },
        Err(Error::Decode(decode)) => Outcome {
            status: None,
            request_violations: Vec::new(),
            result: CallResult::Decode(decode.to_string()),
        },
        Err(other) => {
            let mut message = other.to_string();
            let mut source = std::error::Error::source(&other);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            Outcome {
                status: other.status().map(|s| s.as_u16()),
                request_violations: Vec::new(),
                result: CallResult::Other(message),
            }
        }
    }
}

/// The request-side entries of Prism's `sl-violations` header, as `location: message`.
pub fn request_violations(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    let Some(raw) = headers.get("sl-violations").and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    let Ok(entries) = serde_json::from_str::<Vec<serde_json::Value>>(raw) else {
        return vec![format!("unreadable sl-violations header: {raw}")];
    };
    entries
        .iter()
        .filter(|entry| {
            entry
                .pointer("/location/0")
                .and_then(serde_json::Value::as_str)
                == Some("request")
        })
        .map(|entry| {
            let location: Vec<&str> = entry
                .get("location")
                .and_then(serde_json::Value::as_array)
                .map(|l| l.iter().filter_map(serde_json::Value::as_str).collect())
                .unwrap_or_default();
            let message = entry
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("(no message)");
            format!("{}: {message}", location.join("."))
        })
        .collect()
}

/// A running Prism mock; killed on drop.
#[derive(Debug)]
pub struct Prism {
    child: Child,
    url: String,
}

/// Why Prism could not be started.
#[derive(Debug)]
#[non_exhaustive]
pub enum PrismError {
    /// The Prism executable is not where the setup put it.
    NotInstalled(PathBuf),
    /// The merged spec is not there.
    SpecMissing(PathBuf),
    /// The port was taken before Prism could bind it.
    PortBusy(u16),
    /// Prism exited before listening; its output.
    Exited(String),
    /// Prism did not listen in time; its output so far.
    Timeout(Duration, String),
    /// Starting the process failed.
    Spawn(std::io::Error),
}

impl fmt::Display for PrismError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInstalled(path) => write!(
                f,
                "Prism is not installed at {} (run `cargo xtask test`, which installs it)",
                path.display()
            ),
            Self::SpecMissing(path) => write!(
                f,
                "the merged spec {} is missing (run `cargo xtask test`, which writes it)",
                path.display()
            ),
            Self::PortBusy(port) => write!(f, "Prism could not bind 127.0.0.1:{port}: port busy"),
            Self::Exited(output) => write!(f, "Prism exited before listening:\n{output}"),
            Self::Timeout(after, output) => write!(
                f,
                "Prism did not listen within {} s:\n{output}",
                after.as_secs()
            ),
            Self::Spawn(e) => write!(f, "cannot start Prism: {e}"),
        }
    }
}

impl std::error::Error for PrismError {}

impl Prism {
    /// Starts `prism mock` (dynamic responses, fixed `seed`) for `spec` on a free loopback port
    /// and waits until it listens.
    ///
    /// # Errors
    ///
    /// [`PrismError`], with Prism's own output when it failed.
    pub fn start(
        executable: &Path,
        spec: &Path,
        seed: u64,
        wait: Duration,
    ) -> Result<Self, PrismError> {
        let port = free_port().map_err(PrismError::Spawn)?;
        Self::start_on(executable, spec, seed, port, wait)
    }

    /// Like [`Prism::start`], on a given loopback port.
    ///
    /// # Errors
    ///
    /// [`PrismError`]; [`PrismError::PortBusy`] when `port` is taken.
    pub fn start_on(
        executable: &Path,
        spec: &Path,
        seed: u64,
        port: u16,
        wait: Duration,
    ) -> Result<Self, PrismError> {
        if !executable.is_file() {
            return Err(PrismError::NotInstalled(executable.to_path_buf()));
        }
        if !spec.is_file() {
            return Err(PrismError::SpecMissing(spec.to_path_buf()));
        }
        let mut child = Command::new(executable)
            .args(["mock", "--dynamic", "--seed", &seed.to_string()])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--verboseLevel", "info"])
            .arg(spec)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(PrismError::Spawn)?;
        let output = collect_output(&mut child);
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        let mut seen = String::new();
        loop {
            let drain = |seen: &mut String| {
                for line in output.try_iter() {
                    seen.push_str(&line);
                    seen.push('\n');
                }
            };
            drain(&mut seen);
            if let Ok(Some(_)) = child.try_wait() {
                // Its last words may still be in the pipe.
                std::thread::sleep(Duration::from_millis(200));
                drain(&mut seen);
                return Err(if seen.contains("EADDRINUSE") {
                    PrismError::PortBusy(port)
                } else {
                    PrismError::Exited(seen)
                });
            }
            // Prism's own word, not a connect: on a busy port the connect reaches the other
            // listener.
            if seen.contains(&format!("Prism is listening on http://{address}")) {
                return Ok(Self {
                    child,
                    url: format!("http://{address}"),
                });
            }
            if started.elapsed() > wait {
                let _ = child.kill();
                return Err(PrismError::Timeout(wait, seen));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The mock's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Prism's stdout and stderr, line by line, read on their own threads so pipes never fill.
fn collect_output(child: &mut Child) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    fn pump(stream: impl Read + Send + 'static, sender: mpsc::Sender<String>) {
        std::thread::spawn(move || {
            // Keep draining after the receiver is gone: a closed pipe would kill Prism.
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
    }
    if let Some(stdout) = child.stdout.take() {
        pump(stdout, sender.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        pump(stderr, sender);
    }
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_request_violations_are_kept() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "sl-violations",
            reqwest::header::HeaderValue::from_static(
                r#"[{"location":["request","body"],"severity":"Error","code":"required","message":"Request body must have required property 'locationId'"},{"location":["response","body","id"],"severity":"Error","message":"must be string"}]"#,
            ),
        );
        assert_eq!(
            request_violations(&headers),
            vec!["request.body: Request body must have required property 'locationId'".to_owned()]
        );
        assert!(request_violations(&reqwest::header::HeaderMap::new()).is_empty());
    }

    #[test]
    fn a_missing_prism_or_spec_is_named() {
        let missing = Path::new("/nonexistent/prism");
        let err = Prism::start(missing, Path::new("/"), 1, Duration::from_secs(1))
            .expect_err("not installed");
        assert!(err.to_string().contains("/nonexistent/prism"), "{err}");
    }
}
