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
    pub http_addr: SocketAddr,
    pub log_format: LogFormat,
    pub consumer: ConsumerSettings,
    pub relay: RelaySettings,
    pub rules: RuleSettings,
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
    pub max_attempts: u32,
    pub delivery_limit: u32,
    pub pool_size: u32,
    pub state_cache_docs: usize,
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
