//! A real SMTP server for tests: `aiosmtpd` (Python) started on a free loopback port, storing
//! what it receives in a folder that tests read back. Absent Python or `aiosmtpd`, [`SmtpSink::start`]
//! skips (see [`crate::skip`]); `.ci/run` installs it in `/root/.cache/paperboy-venv`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("smtp_sink.py");

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// Envelope sender.
    pub mail_from: String,
    /// Envelope recipients.
    pub rcpt: Vec<String>,
    /// Headers in order, values decoded and unfolded.
    pub headers: Vec<(String, String)>,
    /// The decoded text/plain part.
    pub text: String,
    /// The decoded text/html part.
    pub html: String,
    /// The message as received.
    pub raw: String,
    /// Mail transactions in progress at the server (on any connection) when the message
    /// arrived, itself included.
    pub in_flight: u64,
}

impl ReceivedMail {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header name, lowercased.
    pub fn header_names(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect()
    }
}

/// The Python that has `aiosmtpd`: `PAPERBOY_TEST_PYTHON`, the venv `.ci/run` prepares, or
/// `python3`.
fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PAPERBOY_TEST_PYTHON").map(PathBuf::from),
        Some(PathBuf::from("/root/.cache/paperboy-venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A running SMTP server; killed when dropped.
pub struct SmtpSink {
    child: Option<Child>,
    python: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the server on a free loopback port, or returns `None` (after [`crate::skip`])
    /// when Python with `aiosmtpd` is not installed.
    pub fn start() -> Option<Self> {
        let Some(python) = python() else {
            crate::skip(
                "Python with aiosmtpd is not installed (see .ci/run), so SMTP delivery is not tested",
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("smtp_sink.py"), SCRIPT).expect("write script");
        let port = free_port();
        let mut sink = Self {
            child: None,
            python,
            port,
            dir,
        };
        sink.restart();
        Some(sink)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Stops the server (connections are refused until [`SmtpSink::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on the same port, keeping what it received.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut child = Command::new(&self.python)
                .arg(self.dir.path().join("smtp_sink.py"))
                .arg("127.0.0.1")
                .arg(self.port.to_string())
                .arg(self.mail_dir())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the SMTP server");
            let stdout = child.stdout.take().expect("stdout");
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            if line.trim() == "ready" {
                self.child = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            // The port may still be held by the previous run for a moment.
            assert!(Instant::now() < deadline, "the SMTP server did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        read_messages(&self.mail_dir())
    }

    /// What each recipient's mailbox holds once duplicates are suppressed by `Message-ID`, as
    /// receiving systems do (Gmail; procmail's `formail -D`): the first copy of each id per
    /// recipient, in arrival order. [`SmtpSink::messages`] is the raw transmission log.
    pub fn mailboxes(&self) -> std::collections::BTreeMap<String, Vec<ReceivedMail>> {
        let mut boxes: std::collections::BTreeMap<String, Vec<ReceivedMail>> = Default::default();
        let mut seen = std::collections::HashSet::new();
        for m in self.messages() {
            for rcpt in &m.rcpt {
                let id = m.header("Message-ID").map(str::to_owned);
                // A message without an id cannot be recognized as a copy: always kept.
                if id.is_none() || seen.insert((rcpt.to_lowercase(), id)) {
                    boxes.entry(rcpt.clone()).or_default().push(m.clone());
                }
            }
        }
        boxes
    }

    /// Waits until at least `n` messages arrived (or `timeout` passed) and returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn read_messages(dir: &Path) -> Vec<ReceivedMail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).expect("read message"))
                    .expect("message JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            ReceivedMail {
                mail_from: s("mail_from"),
                rcpt: v["rcpt"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                headers: v["headers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|h| {
                                (
                                    h[0].as_str().unwrap_or_default().to_owned(),
                                    h[1].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                text: s("text"),
                html: s("html"),
                raw: s("raw"),
                in_flight: v["in_flight"].as_u64().unwrap_or_default(),
            }
        })
        .collect()
}
