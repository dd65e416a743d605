//! Layered configuration: `config/default.toml` (built in as a fallback), then
//! `config/<COLLAB_ENV>.toml`, then environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// The shipped defaults, so the binary runs from any directory.
const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database_url: String,
    pub amqp_url: String,
    /// CA and client certificate for an `amqps://` broker.
    #[serde(default)]
    pub amqp_tls: AmqpTlsSettings,
    pub http_addr: SocketAddr,
    /// The read API (`/v1/...`) on `http_addr`.
    #[serde(default)]
    pub http: HttpSettings,
    pub log_format: LogFormat,
    pub consumer: ConsumerSettings,
    pub relay: RelaySettings,
    pub rules: RuleSettings,
    pub inbox: WindowSettings,
    pub outbox: WindowSettings,
    pub retention: RetentionSettings,
}

/// TLS to the broker beyond the URL's `amqps://` (PEM files; the files are
/// read at each connection, so renewed certificates are picked up on the
/// next reconnect). PostgreSQL's TLS settings are the URL's own parameters
/// (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AmqpTlsSettings {
    /// CA certificates trusted for the broker's certificate, besides the
    /// system's trust store.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (chain), for brokers that ask for one.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PKCS#8, PKCS#1 or SEC1; not
    /// encrypted).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl AmqpTlsSettings {
    /// The files that are set (an empty value, e.g. from the environment, is unset).
    pub fn files(&self) -> [(&'static str, Option<&PathBuf>); 3] {
        fn set(file: &Option<PathBuf>) -> Option<&PathBuf> {
            file.as_ref().filter(|p| !p.as_os_str().is_empty())
        }
        [
            ("amqp_tls.ca_file", set(&self.ca_file)),
            ("amqp_tls.cert_file", set(&self.cert_file)),
            ("amqp_tls.key_file", set(&self.key_file)),
        ]
    }
}

/// The read API's settings. Its token is a secret: `Debug` never shows it.
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Bearer token of the read API (`COLLAB_HTTP__API_TOKEN`); unset or
    /// empty: the API answers 403.
    #[serde(default)]
    pub api_token: Option<String>,
}

impl HttpSettings {
    /// The configured token, if any (an empty value is unset).
    pub fn token(&self) -> Option<&str> {
        self.api_token.as_deref().filter(|t| !t.is_empty())
    }
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("api_token", &self.token().map(|_| "***"))
            .finish()
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSettings {
    pub batch_size: usize,
    pub prefetch: u16,
    /// Attempts at an event the database refuses, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt (ms); it doubles per attempt up
    /// to `max_retry_delay_ms`. The event waits parked in a retry queue.
    pub retry_delay_ms: u64,
    pub max_retry_delay_ms: u64,
    /// Events each retry queue holds at most; one that does not fit is
    /// dead-lettered at once (`apply_failed`).
    pub max_parked: u32,
    pub delivery_limit: u32,
    pub pool_size: u32,
    pub state_cache_docs: usize,
    /// How often the watchdog probes the work queue (ms).
    pub watchdog_interval_ms: u64,
    /// Idle this long while the queue holds ready messages: the consumer is
    /// stalled and the broker session is rebuilt (ms).
    pub stall_timeout_ms: u64,
    /// Larger message bodies are dead-lettered (`too_large`) unread.
    pub max_body_bytes: usize,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelaySettings {
    pub batch_size: i64,
    pub poll_interval_ms: u64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    pub challenge_finalization_lag_secs: i64,
}

/// How long rows are kept (contract §1 retention): `inbox.retention_days`
/// is the deduplication window, `outbox.retention_days` that of published
/// outcomes. Fractional days are accepted (tests use seconds).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WindowSettings {
    pub retention_days: f64,
}

impl WindowSettings {
    pub fn window(&self) -> chrono::Duration {
        chrono::Duration::milliseconds((self.retention_days * 86_400_000.0) as i64)
    }
}

/// How the retention task cuts and maintains the inbox and outbox.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// The time span of one partition (s).
    pub partition_secs: u64,
    /// Partitions kept created ahead of the clock.
    pub partitions_ahead: i32,
    /// How often a maintenance round runs (s).
    pub interval_secs: f64,
}

impl Settings {
    pub fn retention_policy(&self) -> crate::store::retention::Policy {
        crate::store::retention::Policy {
            inbox_window: self.inbox.window(),
            outbox_window: self.outbox.window(),
            partition_width: chrono::Duration::seconds(i64::try_from(self.retention.partition_secs).unwrap_or(86_400)),
            partitions_ahead: self.retention.partitions_ahead,
        }
    }
}

impl RuleSettings {
    pub fn to_rules(&self) -> crate::domain::Rules {
        crate::domain::Rules {
            challenge_finalization_lag: chrono::Duration::seconds(self.challenge_finalization_lag_secs),
        }
    }
}

impl Settings {
    /// Reads the layers from `COLLAB_CONFIG_DIR` (default `config/`).
    pub fn load() -> Result<Settings, Box<figment::Error>> {
        let dir = PathBuf::from(std::env::var("COLLAB_CONFIG_DIR").unwrap_or_else(|_| "config".into()));
        let mut figment = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .merge(Toml::file(dir.join("default.toml")));
        if let Ok(env) = std::env::var("COLLAB_ENV") {
            figment = figment.merge(Toml::file(dir.join(format!("{env}.toml"))));
        }
        figment
            .merge(Env::raw().only(&["DATABASE_URL", "AMQP_URL", "HTTP_ADDR", "LOG_FORMAT"]))
            .merge(Env::prefixed("COLLAB_").ignore(&["ENV", "CONFIG_DIR"]).split("__"))
            .extract()
            .map_err(Box::new)
    }

    /// What the types cannot say: the TLS files exist, a client certificate
    /// comes with its key, and TLS files are set only for an `amqps://` URL
    /// (they would be silently unused otherwise).
    pub fn check(&self) -> Result<(), String> {
        for (name, days) in [
            ("inbox.retention_days", self.inbox.retention_days),
            ("outbox.retention_days", self.outbox.retention_days),
        ] {
            if !days.is_finite() || days <= 0.0 {
                return Err(format!("{name} must be a positive number of days, not {days}"));
            }
        }
        let retention = &self.retention;
        if retention.partition_secs == 0
            || retention.partitions_ahead < 1
            || retention.interval_secs.is_nan()
            || retention.interval_secs <= 0.0
        {
            return Err("retention: partition_secs, partitions_ahead and interval_secs must be positive".into());
        }
        // Rounds must come before the partitions made ahead run out.
        if retention.interval_secs >= (retention.partition_secs as f64) * f64::from(retention.partitions_ahead) {
            return Err("retention.interval_secs must be shorter than partition_secs × partitions_ahead".into());
        }
        let [_, (_, cert), (_, key)] = self.amqp_tls.files();
        if cert.is_some() != key.is_some() {
            return Err("amqp_tls.cert_file and amqp_tls.key_file are set together or not at all".into());
        }
        let mut any = false;
        for (name, file) in self.amqp_tls.files() {
            if let Some(path) = file {
                any = true;
                std::fs::metadata(path).map_err(|e| format!("{name} {}: {e}", path.display()))?;
            }
        }
        if any && !self.amqp_url.starts_with("amqps://") {
            return Err(format!(
                "amqp_tls is set but AMQP_URL ({}) is not an amqps:// URL",
                redact_url(&self.amqp_url)
            ));
        }
        Ok(())
    }
}

/// `scheme://user:secret@host/db?password=secret` →
/// `scheme://user:***@host/db?password=***`: the password of the user info
/// and of any query parameter whose name says password.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let location = match location.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => location.to_owned(),
        },
        None => location.to_owned(),
    };
    let Some(query) = query else {
        return format!("{scheme}://{location}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{scheme}://{location}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_defaults_parse() {
        let settings: Result<Settings, _> = Figment::new().merge(Toml::string(DEFAULT_TOML)).extract();
        let settings = settings.map_err(|e| e.to_string());
        assert_eq!(
            settings.as_ref().map(|s| s.database_url.as_str()),
            Ok("postgres://postgres@127.0.0.1:5432/collab")
        );
        assert_eq!(settings.as_ref().map(|s| s.http_addr.port()), Ok(9464));
    }

    #[test]
    fn tls_files_are_checked_at_start() {
        let settings = |url: &str, ca: &str, cert: &str, key: &str| {
            let mut settings: Settings = Figment::new()
                .merge(Toml::string(DEFAULT_TOML))
                .extract()
                .unwrap_or_else(|e| panic!("{e}"));
            settings.amqp_url = url.into();
            settings.amqp_tls = AmqpTlsSettings {
                ca_file: Some(ca.into()),
                cert_file: Some(cert.into()),
                key_file: Some(key.into()),
            };
            settings.check()
        };
        let here = env!("CARGO_MANIFEST_DIR").to_owned() + "/Cargo.toml";
        assert_eq!(settings("amqps://h", "", "", ""), Ok(()));
        assert_eq!(settings("amqps://h", &here, &here, &here), Ok(()));
        assert!(settings("amqps://h", "", &here, "").is_err_and(|e| e.contains("together")));
        assert!(settings("amqps://h", "/nope.pem", "", "").is_err_and(|e| e.contains("amqp_tls.ca_file /nope.pem")));
        assert!(
            settings("amqp://u:secret@h", &here, "", "")
                .is_err_and(|e| e.contains("not an amqps://") && !e.contains("secret"))
        );
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_url("amqp://guest:guest@h:5672/%2f"),
            "amqp://guest:***@h:5672/%2f"
        );
        assert_eq!(redact_url("postgres://postgres@h/db"), "postgres://postgres@h/db");
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db?sslmode=verify-full&password=s3&sslrootcert=/ca.pem"),
            "postgres://u:***@h/db?sslmode=verify-full&password=***&sslrootcert=/ca.pem"
        );
        assert_eq!(
            redact_url("amqps://h/%2f?auth_mechanism=external"),
            "amqps://h/%2f?auth_mechanism=external"
        );
    }
}
