//! SMTP delivery with lettre: one pooled transport (connections are opened once and reused
//! across messages), and failures sorted into temporary (4xx replies, refused or dropped
//! connections, timeouts: try again later) and permanent (5xx replies: stop).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::{MailError, MailResult};

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same machine or network.
    #[default]
    None,
    /// STARTTLS, required (usually port 587).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl SmtpTls {
    /// Reads `none`, `starttls` or `tls`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "plain" => Some(Self::None),
            "starttls" => Some(Self::StartTls),
            "tls" | "smtps" => Some(Self::Tls),
            _ => None,
        }
    }
}

/// Where and how to reach the SMTP server.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection security.
    pub tls: SmtpTls,
    /// Login, if the server wants one.
    pub username: Option<String>,
    /// Password for `username` (never logged).
    pub password: Option<String>,
    /// Connections kept open at most.
    pub max_connections: u32,
    /// How long one SMTP exchange may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 25,
            tls: SmtpTls::None,
            username: None,
            password: None,
            max_connections: 4,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Will never work.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Sends messages over SMTP, reusing pooled connections.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    settings: SmtpSettings,
    eight_bit: Arc<AtomicBool>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Mailer {
    /// A mailer for these settings. Nothing is connected until the first send.
    pub fn new(settings: SmtpSettings) -> MailResult<Self> {
        let builder = match settings.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(|e| MailError::Settings(format!("SMTP host {}: {e}", settings.host)))?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .map_err(|e| MailError::Settings(format!("SMTP host {}: {e}", settings.host)))?,
        };
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(settings.timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(settings.max_connections.max(1))
                    .idle_timeout(Duration::from_secs(30)),
            );
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            settings,
            eight_bit: Arc::new(AtomicBool::new(true)),
        })
    }

    /// Whether to compose messages as 8-bit text: yes until the server turns out not to
    /// announce 8BITMIME (then the failed message is retried, quoted-printable).
    pub fn eight_bit(&self) -> bool {
        self.eight_bit.load(Ordering::Relaxed)
    }

    /// The settings.
    pub fn settings(&self) -> &SmtpSettings {
        &self.settings
    }

    /// Sends one message.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) if e.is_client() && e.to_string().contains("8BITMIME") => {
                self.eight_bit.store(false, Ordering::Relaxed);
                Err(SendError::Temporary(format!(
                    "{e}; resending quoted-printable"
                )))
            }
            Err(e) => Err(SendError::Temporary(describe(&e))),
        }
    }
}

fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
