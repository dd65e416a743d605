//! Value types shared by inbound events, outcomes and the domain: ids, money,
//! rates, currencies. Each one validates itself when it is deserialized, so a
//! value that exists in the program is a valid one ("parse, don't validate").

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The longest id, in bytes of UTF-8 (contract §3). Ids are index keys in
/// PostgreSQL, whose btree entries cannot exceed about 2.7 kB; the contract's
/// bound leaves room for keys made of two ids.
pub const MAX_ID_BYTES: usize = 256;

/// Why a string is not an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("ids are non-empty strings")]
    Empty,
    #[error("ids are at most {MAX_ID_BYTES} bytes, this one has {0}")]
    TooLong(usize),
    /// PostgreSQL `text` cannot hold U+0000.
    #[error("ids may not contain U+0000")]
    Nul,
}

/// Checks the id rules of the contract: non-empty, at most
/// [`MAX_ID_BYTES`], no U+0000.
pub fn check_id(value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        Err(IdError::Empty)
    } else if value.len() > MAX_ID_BYTES {
        Err(IdError::TooLong(value.len()))
    } else if value.contains('\0') {
        Err(IdError::Nul)
    } else {
        Ok(())
    }
}

/// Declares a string id newtype: on the wire non-empty, at most
/// [`MAX_ID_BYTES`], without U+0000; ordered, hashable.
macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                check_id(&value)?;
                Ok(Self(value))
            }
        }

        impl From<&str> for $name {
            /// For tests and fixtures; wire input goes through `TryFrom<String>`.
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::try_from(raw).map_err(de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

id_type!(
    EventId,
    ProductId,
    SellerId,
    CreatorId,
    OrderId,
    CampaignId,
    ContentId,
    GroupId,
    RequestId,
    RefundableId,
    DisputeId,
    PaymentId,
    ViolationId,
);

/// ISO 4217 code: three upper-case ASCII letters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase())).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Currency {
    /// For tests and fixtures.
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw)
            .ok_or_else(|| de::Error::custom(format!("{raw:?} is not an ISO 4217 code (three upper-case letters)")))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses the decimal text grammar of the contract: optional minus sign,
/// digits, optional fraction. No exponent, no `+`, no spaces, no JSON numbers.
pub fn parse_decimal_text(raw: &str) -> Option<Decimal> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let (int, frac) = match digits.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    // Exact: a value that does not fit 28 digits is refused, never rounded.
    Decimal::from_str_exact(raw).ok()
}

/// Rounds computed money to cents, half away from zero (rules.md conventions).
pub fn round_money(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A non-negative amount with at most two fraction digits, as money travels
/// on the wire. Its currency is a sibling field of the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(Decimal);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);

    pub fn new(value: Decimal) -> Option<Self> {
        (value >= Decimal::ZERO && value.scale() <= 2).then_some(Self(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let value =
            parse_decimal_text(&raw).ok_or_else(|| de::Error::custom(format!("{raw:?} is not a decimal string")))?;
        // A sign at all is refused: "-0.00" is not money either.
        if value < Decimal::ZERO || raw.starts_with('-') {
            return Err(de::Error::custom(format!("{raw:?} is negative")));
        }
        Self::new(value).ok_or_else(|| de::Error::custom(format!("{raw:?} has more than 2 fraction digits")))
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_money(&self.0, s)
    }
}

/// A decimal string whose range the business rules check (campaign
/// submissions report bad money as `invalid_money` instead of dead-lettering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DecimalText(pub Decimal);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        parse_decimal_text(&raw)
            .map(Self)
            .ok_or_else(|| de::Error::custom(format!("{raw:?} is not a decimal string")))
    }
}

impl Serialize for DecimalText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A commission rate: a fraction in `[0, 1]`.
///
/// It keeps the scale it was given: downstream consumers compare the rates
/// of outcomes as text with what the producer sent, so `"0.10"` must come
/// back as `"0.10"`. Equality, order and hashing stay numeric (`Decimal`
/// compares and hashes by value), so `"0.10" == "0.1"` as rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rate(Decimal);

impl Rate {
    /// The worker's own zero (a blocked, paused or demoted creator, no rate
    /// at all): written `"0"`.
    pub const ZERO: Rate = Rate(Decimal::ZERO);

    pub fn new(value: Decimal) -> Option<Self> {
        (value >= Decimal::ZERO && value <= Decimal::ONE).then_some(Self(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// `base × rate`, rounded to cents.
    pub fn apply(self, base: Decimal) -> Decimal {
        round_money(base * self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let value =
            parse_decimal_text(&raw).ok_or_else(|| de::Error::custom(format!("{raw:?} is not a decimal string")))?;
        if raw.starts_with('-') {
            return Err(de::Error::custom(format!("rate {raw:?} is outside [0, 1]")));
        }
        Self::new(value).ok_or_else(|| de::Error::custom(format!("rate {raw:?} is outside [0, 1]")))
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Money on the wire always has exactly two fraction digits: `"12.50"`.
pub fn format_money(value: &Decimal) -> String {
    let mut v = round_money(*value);
    v.rescale(2);
    v.to_string()
}

pub fn serialize_money<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_money(value))
}

pub fn serialize_opt_money<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serialize_money(v, s),
        None => s.serialize_none(),
    }
}

/// Outcome times are RFC 3339 in UTC with a `Z` suffix.
pub fn format_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub mod utc_time {
    //! serde helpers writing times as RFC 3339 with `Z`.
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(t))
    }
}

pub mod rfc3339 {
    //! Strict RFC 3339 input (chrono's default `FromStr` also accepts a space
    //! instead of `T`, which the contract does not).
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, de};

    pub fn parse(raw: &str) -> Option<DateTime<Utc>> {
        // chrono also takes a space between date and time; RFC 3339 § 5.6 wants `T`.
        if !matches!(raw.as_bytes().get(10), Some(b'T' | b't')) {
            return None;
        }
        DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(d)?;
        parse(&raw).ok_or_else(|| de::Error::custom(format!("{raw:?} is not an RFC 3339 time")))
    }
}

pub mod opt_utc_time {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_time(t)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(json: &str) -> Result<Amount, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn money_is_a_decimal_string_with_at_most_two_fraction_digits() {
        assert_eq!(
            amount("\"12.50\"").map(|a| a.value().to_string()).ok().as_deref(),
            Some("12.50")
        );
        assert!(amount("\"0\"").is_ok());
        assert!(amount("12.5").is_err(), "a JSON number is not money");
        assert!(amount("\"12.505\"").is_err());
        assert!(amount("\"-1.00\"").is_err());
        assert!(amount("\"1e3\"").is_err());
        assert!(amount("\" 1\"").is_err());
        assert!(amount("\"1.\"").is_err());
        assert!(amount("\".5\"").is_err());
        assert!(amount("\"-0\"").is_err());
        assert!(amount("\"-0.00\"").is_err());
        assert!(
            amount("\"123456789012345678901234567890\"").is_err(),
            "beyond the 96-bit mantissa"
        );
    }

    #[test]
    fn times_are_rfc_3339_with_a_t() {
        assert!(rfc3339::parse("2026-10-01T10:00:00Z").is_some());
        assert!(rfc3339::parse("2026-10-01T12:00:00+02:00").is_some());
        assert!(rfc3339::parse("2026-10-01 10:00:00Z").is_none());
        assert!(rfc3339::parse("2026-10-01").is_none());
    }

    #[test]
    fn rates_are_fractions_in_the_unit_interval() {
        let rate = |json: &str| serde_json::from_str::<Rate>(json);
        assert_eq!(rate("\"0.150\"").map(|r| r.to_string()).ok().as_deref(), Some("0.150"));
        assert!(rate("\"1\"").is_ok());
        assert!(rate("\"1.01\"").is_err());
        assert!(rate("\"-0\"").is_err());
        assert!(
            rate("\"1.0000000000000000000000000000001\"").is_err(),
            "never rounded into range"
        );
        assert!(rate("0.1").is_err());
    }

    #[test]
    fn rates_keep_the_producers_scale_and_compare_by_value() {
        let rate = |json: &str| serde_json::from_str::<Rate>(json).unwrap_or_default();
        let text = |r: Rate| serde_json::to_value(r).unwrap_or_default();
        assert_eq!(text(rate("\"0.10\"")), "0.10");
        assert_eq!(text(rate("\"1.00\"")), "1.00");
        assert_eq!(text(rate("\"0.15\"")), "0.15");
        assert_eq!(text(Rate::ZERO), "0");
        assert_eq!(rate("\"0.10\""), rate("\"0.1\""));
        // Equal rates hash alike whatever their scale, as `Eq` requires.
        use std::hash::{BuildHasher, RandomState};
        let hasher = RandomState::new();
        assert_eq!(hasher.hash_one(rate("\"0.10\"")), hasher.hash_one(rate("\"0.1\"")));
    }

    #[test]
    fn money_rounds_half_away_from_zero_and_prints_two_digits() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(format_money(&d("0.125")), "0.13");
        assert_eq!(format_money(&d("-0.125")), "-0.13");
        assert_eq!(format_money(&d("7")), "7.00");
        assert_eq!(Rate::new(d("0.15")).map(|r| r.apply(d("33.33"))), Some(d("5.00")));
    }

    #[test]
    fn ids_are_non_empty() {
        assert!(serde_json::from_str::<OrderId>("\"\"").is_err());
        assert!(serde_json::from_str::<OrderId>("\"o-1\"").is_ok());
        assert!(serde_json::from_str::<OrderId>("7").is_err());
    }

    #[test]
    fn ids_are_at_most_256_bytes_without_nul() {
        let id = |text: &str| serde_json::from_str::<OrderId>(&serde_json::json!(text).to_string());
        assert!(id(&"x".repeat(256)).is_ok());
        let too_long = id(&"x".repeat(257)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(too_long.contains("at most 256 bytes, this one has 257"), "{too_long}");
        // Bytes, not characters: 128 × "é" (2 bytes each) is 256 bytes, 129 is 258.
        assert!(id(&"é".repeat(128)).is_ok());
        assert!(id(&"é".repeat(129)).is_err());
        assert!(serde_json::from_str::<OrderId>("\"o\\u0000\"").is_err());
        assert_eq!(check_id("a\0b"), Err(IdError::Nul));
    }

    #[test]
    fn currencies_are_iso_codes() {
        assert!(serde_json::from_str::<Currency>("\"USD\"").is_ok());
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
        assert!(serde_json::from_str::<Currency>("\"USDT\"").is_err());
    }
}
