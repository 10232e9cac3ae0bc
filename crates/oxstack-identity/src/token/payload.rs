//! What a token says, and its msgpack encoding, matching Keystone's
//! `keystone/token/token_formatters.py` byte for byte.
//!
//! A payload is a msgpack array: the payload version, then the fields of that
//! version. The fields are built from a few encodings shared by all versions:
//!
//! - an *id* is the pair `(true, 16 raw bytes)` when it is a UUID in hex
//!   (what Keystone and oxstack generate), else `(false, the string)` — e.g.
//!   LDAP or federated user ids;
//! - *methods* is an integer bitmask over Keystone's default `[auth] methods`
//!   list ([`AUTH_METHODS`]), bit 0 for the first;
//! - *expires_at* is a float of seconds since the Unix epoch;
//! - *audit ids* are urlsafe-base64 strings on the outside and their raw
//!   bytes inside.
//!
//! | version | scope               | fields after the version |
//! |---------|---------------------|--------------------------|
//! | 0       | unscoped            | user, methods, expires, audits |
//! | 1       | domain              | user, methods, domain (raw 16 bytes, or the default domain's name as a string), expires, audits |
//! | 2       | project             | user, methods, project, expires, audits |
//! | 3       | trust               | user, methods, project, expires, audits, trust (raw 16 bytes) |
//! | 4–6     | federated           | not supported |
//! | 7       | OAuth 1.0a          | not supported |
//! | 8       | system              | user, methods, system (`"all"`), expires, audits |
//! | 9       | application credential | user, methods, project, expires, audits, app credential |
//! | 10      | OAuth 2.0 mTLS      | not supported |

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE_NO_PAD, URL_SAFE_NO_PAD_INDIFFERENT};
use chrono::{DateTime, Utc};
use rmpv::Value;

use super::TokenError;

/// Keystone's default `[auth] methods`, in order: method `i` is bit `1 << i`
/// of the payload's methods integer. Keystone derives the bits from its
/// configuration; oxstack fixes them to the default so that tokens stay
/// valid across nodes and releases.
pub const AUTH_METHODS: [&str; 6] = [
    "external",
    "password",
    "token",
    "oauth1",
    "mapped",
    "application_credential",
];

const V_UNSCOPED: u64 = 0;
const V_DOMAIN: u64 = 1;
const V_PROJECT: u64 = 2;
const V_TRUST: u64 = 3;
const V_FEDERATED_UNSCOPED: u64 = 4;
const V_FEDERATED_PROJECT: u64 = 5;
const V_FEDERATED_DOMAIN: u64 = 6;
const V_OAUTH1: u64 = 7;
const V_SYSTEM: u64 = 8;
const V_APP_CRED: u64 = 9;
const V_OAUTH2: u64 = 10;

/// What a token is scoped to. Each variant is one Keystone payload version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// No scope: the token only proves who the user is (version 0).
    Unscoped,
    /// Scoped to a domain, by id (version 1). Keystone itself can only decode
    /// a non-UUID domain id when it is its configured default domain id.
    Domain(String),
    /// Scoped to a project, by id (version 2).
    Project(String),
    /// Acting for a trust on the trust's project (version 3). The trust id
    /// must be a UUID in hex.
    Trust {
        /// The trust's project.
        project_id: String,
        /// The trust in effect.
        trust_id: String,
    },
    /// System scope (version 8); Keystone's only system is `"all"`.
    System(String),
    /// Authenticated by an application credential, on its project (version 9).
    AppCred {
        /// The application credential's project.
        project_id: String,
        /// The application credential used.
        app_cred_id: String,
    },
}

/// The contents of a Fernet token. The issue time is not part of it: that is
/// the Fernet envelope's timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPayload {
    /// The authenticated user.
    pub user_id: String,
    /// The authentication methods used, names from [`AUTH_METHODS`]. Decoded
    /// tokens list them as Keystone does: in reverse of that order (a token
    /// from `["password", "token"]` decodes as `["token", "password"]`).
    pub methods: Vec<String>,
    /// What the token is scoped to.
    pub scope: Scope,
    /// When the token stops being valid. Carried with microsecond precision;
    /// anything finer is dropped on encoding.
    pub expires_at: DateTime<Utc>,
    /// The token's own audit id first, then, for a token made from another
    /// token (re-scoping), that token's audit chain.
    pub audit_ids: Vec<String>,
}

/// Makes a new audit id: 16 random bytes, urlsafe base64 without padding
/// (22 characters), the form Keystone uses.
pub fn random_audit_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Serializes a payload to the msgpack bytes Keystone would produce.
pub(crate) fn encode(p: &TokenPayload) -> Result<Vec<u8>, TokenError> {
    let user = pack_id(&p.user_id);
    let methods = Value::from(methods_to_int(&p.methods)?);
    let expires = Value::F64(datetime_to_float(p.expires_at));
    let audits = Value::Array(
        p.audit_ids
            .iter()
            .map(|a| audit_id_to_bytes(a).map(Value::Binary))
            .collect::<Result<_, _>>()?,
    );
    let fields = match &p.scope {
        Scope::Unscoped => vec![V_UNSCOPED.into(), user, methods, expires, audits],
        Scope::Domain(id) => {
            // Keystone packs domain ids bare, not as a (flag, value) pair.
            let domain = match uuid_hex_to_bytes(id) {
                Some(b) => Value::Binary(b.to_vec()),
                None => Value::from(id.as_str()),
            };
            vec![V_DOMAIN.into(), user, methods, domain, expires, audits]
        }
        Scope::Project(id) => vec![
            V_PROJECT.into(),
            user,
            methods,
            pack_id(id),
            expires,
            audits,
        ],
        Scope::Trust {
            project_id,
            trust_id,
        } => {
            let trust = uuid_hex_to_bytes(trust_id).ok_or_else(|| {
                TokenError::InvalidPayload(format!("trust id {trust_id:?} is not a hex UUID"))
            })?;
            vec![
                V_TRUST.into(),
                user,
                methods,
                pack_id(project_id),
                expires,
                audits,
                Value::Binary(trust.to_vec()),
            ]
        }
        Scope::System(system) => vec![
            V_SYSTEM.into(),
            user,
            methods,
            Value::from(system.as_str()),
            expires,
            audits,
        ],
        Scope::AppCred {
            project_id,
            app_cred_id,
        } => vec![
            V_APP_CRED.into(),
            user,
            methods,
            pack_id(project_id),
            expires,
            audits,
            pack_id(app_cred_id),
        ],
    };
    let mut out = Vec::with_capacity(128);
    rmpv::encode::write_value(&mut out, &Value::Array(fields))
        .map_err(|e| TokenError::InvalidPayload(format!("msgpack encoding failed: {e}")))?;
    Ok(out)
}

fn garbled(what: &str) -> TokenError {
    TokenError::Garbled(format!("payload: {what}"))
}

/// Parses the msgpack bytes of a decrypted token.
pub(crate) fn decode(bytes: &[u8]) -> Result<TokenPayload, TokenError> {
    let mut rd = bytes;
    let value = rmpv::decode::read_value(&mut rd).map_err(|_| garbled("not msgpack"))?;
    if !rd.is_empty() {
        return Err(garbled("trailing bytes after msgpack value"));
    }
    let Value::Array(items) = value else {
        return Err(garbled("not an array"));
    };
    let (version, fields) = items.split_first().ok_or_else(|| garbled("empty array"))?;
    let version = version
        .as_u64()
        .ok_or_else(|| garbled("version is not an integer"))?;

    let unsupported = |name| Err(TokenError::UnsupportedVersion(version, name));
    let expected_len = match version {
        V_UNSCOPED => 4,
        V_DOMAIN | V_PROJECT | V_SYSTEM => 5,
        V_TRUST | V_APP_CRED => 6,
        V_FEDERATED_UNSCOPED | V_FEDERATED_PROJECT | V_FEDERATED_DOMAIN => {
            return unsupported("federated");
        }
        V_OAUTH1 => return unsupported("OAuth 1.0a"),
        V_OAUTH2 => return unsupported("OAuth 2.0"),
        other => return Err(TokenError::UnknownVersion(other)),
    };
    if fields.len() != expected_len {
        return Err(garbled("wrong number of fields for its version"));
    }
    let user_id = unpack_id(&fields[0])?;
    let methods = int_to_methods(&fields[1])?;
    // Unscoped payloads have no scope field, so expiry and audit ids sit one
    // place earlier than in every other version.
    let (exp_at, audit_at) = if version == V_UNSCOPED {
        (2, 3)
    } else {
        (3, 4)
    };
    let expires_at = float_to_datetime(&fields[exp_at])?;
    let audit_ids = fields[audit_at]
        .as_array()
        .ok_or_else(|| garbled("audit ids are not an array"))?
        .iter()
        .map(|v| {
            raw_bytes(v)
                .map(|b| URL_SAFE_NO_PAD.encode(b))
                .ok_or_else(|| garbled("audit id is not bytes"))
        })
        .collect::<Result<_, _>>()?;
    let scope = match version {
        V_UNSCOPED => Scope::Unscoped,
        V_DOMAIN => Scope::Domain(unpack_domain_id(&fields[2])?),
        V_PROJECT => Scope::Project(unpack_id(&fields[2])?),
        V_TRUST => Scope::Trust {
            project_id: unpack_id(&fields[2])?,
            trust_id: raw_bytes(&fields[5])
                .and_then(|b| <&[u8; 16]>::try_from(b).ok())
                .map(bytes_to_uuid_hex)
                .ok_or_else(|| garbled("trust id is not 16 bytes"))?,
        },
        V_SYSTEM => Scope::System(text(&fields[2]).ok_or_else(|| garbled("system is not text"))?),
        V_APP_CRED => Scope::AppCred {
            project_id: unpack_id(&fields[2])?,
            app_cred_id: unpack_id(&fields[5])?,
        },
        other => return Err(TokenError::UnknownVersion(other)),
    };
    Ok(TokenPayload {
        user_id,
        methods,
        scope,
        expires_at,
        audit_ids,
    })
}

/// Only lowercase, dash-less hex UUIDs are compressed. Keystone's
/// `uuid.UUID()` would also take upper case, dashes or braces, but then hands
/// back a different string than it was given; keeping those as strings
/// round-trips them exactly, and Keystone decodes either form.
fn uuid_hex_to_bytes(id: &str) -> Option<[u8; 16]> {
    let hex = id.as_bytes();
    if hex.len() != 32 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn bytes_to_uuid_hex(bytes: &[u8; 16]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn pack_id(id: &str) -> Value {
    match uuid_hex_to_bytes(id) {
        Some(b) => Value::Array(vec![true.into(), Value::Binary(b.to_vec())]),
        None => Value::Array(vec![false.into(), id.into()]),
    }
}

/// The bytes of a bin or str value. Tokens from Keystone releases that
/// used msgpack < 1.0 carry bytes in the str type, so both must be read.
fn raw_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Binary(b) => Some(b),
        Value::String(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// A text field (bin or str, as above), which must be UTF-8.
fn text(v: &Value) -> Option<String> {
    raw_bytes(v)
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(str::to_owned)
}

fn unpack_id(v: &Value) -> Result<String, TokenError> {
    let pair = v.as_array().ok_or_else(|| garbled("id is not a pair"))?;
    let [flag, value] = pair.as_slice() else {
        return Err(garbled("id is not a pair"));
    };
    match flag.as_bool() {
        Some(true) => raw_bytes(value)
            .and_then(|b| <&[u8; 16]>::try_from(b).ok())
            .map(bytes_to_uuid_hex)
            .ok_or_else(|| garbled("UUID id is not 16 bytes")),
        Some(false) => text(value).ok_or_else(|| garbled("id is not text")),
        None => Err(garbled("id flag is not a boolean")),
    }
}

/// Domain ids are bare: 16 bytes for a UUID, else the id as text.
fn unpack_domain_id(v: &Value) -> Result<String, TokenError> {
    match v {
        Value::Binary(b) if b.len() == 16 => <&[u8; 16]>::try_from(b.as_slice())
            .map(bytes_to_uuid_hex)
            .map_err(|_| garbled("domain id")),
        _ => text(v).ok_or_else(|| garbled("domain id is not text")),
    }
}

fn methods_to_int(methods: &[String]) -> Result<u64, TokenError> {
    methods.iter().try_fold(0u64, |acc, m| {
        // Keystone silently drops names it does not know, which would make a
        // token claim less than what happened; refuse instead.
        let bit = AUTH_METHODS
            .iter()
            .position(|known| known == m)
            .ok_or_else(|| TokenError::InvalidPayload(format!("unknown auth method {m:?}")))?;
        Ok(acc | (1 << bit))
    })
}

fn int_to_methods(v: &Value) -> Result<Vec<String>, TokenError> {
    let bits = v
        .as_u64()
        .ok_or_else(|| garbled("methods is not an integer"))?;
    if bits >> AUTH_METHODS.len() != 0 {
        return Err(garbled("methods has bits for unknown methods"));
    }
    // Highest bit first, the order Keystone's convert_integer_to_method_list
    // returns them in.
    Ok((0..AUTH_METHODS.len())
        .rev()
        .filter(|i| bits & (1 << i) != 0)
        .map(|i| AUTH_METHODS[i].to_owned())
        .collect())
}

/// Keystone's `timedelta.total_seconds()`: whole microseconds divided by a
/// million, which IEEE division rounds exactly as Python's int / int does.
fn datetime_to_float(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1_000_000.0
}

/// Python's `datetime.fromtimestamp(f)`: split into whole seconds and a
/// fraction, round the fraction to microseconds half-to-even, carry.
fn float_to_datetime(v: &Value) -> Result<DateTime<Utc>, TokenError> {
    // Old Keystone releases wrote whole seconds as an integer.
    let f = match v {
        Value::F64(f) => *f,
        Value::F32(f) => f64::from(*f),
        Value::Integer(i) => i
            .as_i64()
            .map(|i| i as f64)
            .ok_or_else(|| garbled("expires_at out of range"))?,
        _ => return Err(garbled("expires_at is not a number")),
    };
    if !f.is_finite() || f.abs() > 1e15 {
        return Err(garbled("expires_at out of range"));
    }
    let mut secs = f.trunc() as i64;
    let mut micros = (f.fract() * 1e6).round_ties_even() as i64;
    if micros >= 1_000_000 {
        micros -= 1_000_000;
        secs += 1;
    } else if micros < 0 {
        micros += 1_000_000;
        secs -= 1;
    }
    let nanos = u32::try_from(micros * 1000).map_err(|_| garbled("expires_at out of range"))?;
    DateTime::from_timestamp(secs, nanos).ok_or_else(|| garbled("expires_at out of range"))
}

fn audit_id_to_bytes(id: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD_INDIFFERENT
        .decode(id)
        .map_err(|_| TokenError::InvalidPayload(format!("audit id {id:?} is not urlsafe base64")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    const USER: &str = "8c5b6b6c1f6a4b3e9d2c7a1e0f9b8d7c";
    const PROJECT: &str = "3f2e1d0c9b8a47f6a5e4d3c2b1a09f8e";

    fn sample(scope: Scope) -> TokenPayload {
        TokenPayload {
            user_id: USER.into(),
            methods: vec!["password".into()],
            scope,
            expires_at: Utc
                .with_ymd_and_hms(2031, 5, 6, 7, 8, 9)
                .single()
                .expect("date")
                + chrono::Duration::microseconds(123_456),
            audit_ids: vec![random_audit_id()],
        }
    }

    #[test]
    fn every_supported_scope_round_trips() {
        for scope in [
            Scope::Unscoped,
            Scope::Domain("default".into()),
            Scope::Domain("a1b2c3d4e5f60718293a4b5c6d7e8f90".into()),
            Scope::Project(PROJECT.into()),
            Scope::Project("Not-A-UUID".into()),
            Scope::Trust {
                project_id: PROJECT.into(),
                trust_id: "fedcba9876543210fedcba9876543210".into(),
            },
            Scope::System("all".into()),
            Scope::AppCred {
                project_id: PROJECT.into(),
                app_cred_id: "my app cred".into(),
            },
        ] {
            let p = sample(scope);
            let bytes = encode(&p).expect("encode");
            assert_eq!(decode(&bytes).expect("decode"), p);
        }
    }

    #[test]
    fn ids_pack_as_keystone_does() {
        assert_eq!(
            pack_id(USER),
            Value::Array(vec![
                true.into(),
                Value::Binary(uuid_hex_to_bytes(USER).expect("uuid").to_vec())
            ])
        );
        // Dashed, upper-case and short ids stay strings so they round-trip.
        for id in [
            "8c5b6b6c-1f6a-4b3e-9d2c-7a1e0f9b8d7c",
            "8C5B6B6C1F6A4B3E9D2C7A1E0F9B8D7C",
            "admin",
            "",
        ] {
            assert_eq!(pack_id(id), Value::Array(vec![false.into(), id.into()]));
            assert_eq!(unpack_id(&pack_id(id)).expect("unpack"), id);
        }
        assert_eq!(unpack_id(&pack_id(USER)).expect("unpack"), USER);
    }

    #[test]
    fn methods_bitmask_follows_default_auth_methods() {
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(methods_to_int(&m(&["external"])).expect("bits"), 1);
        assert_eq!(methods_to_int(&m(&["password"])).expect("bits"), 2);
        assert_eq!(methods_to_int(&m(&["password", "token"])).expect("bits"), 6);
        assert_eq!(
            methods_to_int(&m(&["application_credential"])).expect("bits"),
            32
        );
        let err = methods_to_int(&m(&["totp"])).expect_err("unknown method");
        assert!(err.to_string().contains("totp"), "{err}");
        assert_eq!(
            int_to_methods(&Value::from(6)).expect("methods"),
            m(&["token", "password"])
        );
        assert_eq!(
            int_to_methods(&Value::from(0)).expect("methods"),
            Vec::<String>::new()
        );
        assert!(int_to_methods(&Value::from(64)).is_err());
        assert!(int_to_methods(&Value::from(-1)).is_err());
    }

    #[test]
    fn expires_at_float_matches_python_rounding() {
        let t = Utc
            .with_ymd_and_hms(2031, 5, 6, 7, 8, 9)
            .single()
            .expect("date")
            + chrono::Duration::microseconds(123_456);
        let f = datetime_to_float(t);
        assert_eq!(f, 1_935_817_689.123_456);
        assert_eq!(float_to_datetime(&Value::F64(f)).expect("time"), t);
        // Nanoseconds beyond microseconds are dropped when encoding.
        let fine = t + chrono::Duration::nanoseconds(999);
        assert_eq!(
            float_to_datetime(&Value::F64(datetime_to_float(fine))).expect("time"),
            t
        );
        // Whole-second integers from old releases.
        assert_eq!(
            float_to_datetime(&Value::from(981_173_106)).expect("time"),
            Utc.with_ymd_and_hms(2001, 2, 3, 4, 5, 6)
                .single()
                .expect("date")
        );
        // Fractions that round up to a whole second carry.
        assert_eq!(
            float_to_datetime(&Value::F64(10.999_999_7)).expect("time"),
            DateTime::from_timestamp(11, 0).expect("time")
        );
        for bad in [
            Value::F64(f64::NAN),
            Value::F64(f64::INFINITY),
            Value::F64(1e300),
            Value::from("soon"),
        ] {
            assert!(float_to_datetime(&bad).is_err());
        }
    }

    #[test]
    fn audit_ids_are_raw_bytes_inside() {
        let id = random_audit_id();
        assert_eq!(id.len(), 22);
        assert_eq!(audit_id_to_bytes(&id).expect("bytes").len(), 16);
        assert_ne!(random_audit_id(), id);
        let mut p = sample(Scope::Unscoped);
        p.audit_ids = vec!["not base64!".into()];
        assert!(matches!(encode(&p), Err(TokenError::InvalidPayload(_))));
    }

    #[test]
    fn bad_trust_id_is_refused() {
        let p = sample(Scope::Trust {
            project_id: PROJECT.into(),
            trust_id: "trust".into(),
        });
        assert!(matches!(encode(&p), Err(TokenError::InvalidPayload(_))));
    }

    #[test]
    fn decode_rejects_malformed_payloads() {
        let enc = |v: Value| {
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, &v).expect("encode");
            out
        };
        let good = encode(&sample(Scope::Project(PROJECT.into()))).expect("encode");
        let mut trailing = good.clone();
        trailing.push(0xc0);
        assert!(matches!(decode(&trailing), Err(TokenError::Garbled(_))));
        assert!(matches!(
            decode(&good[..good.len() - 1]),
            Err(TokenError::Garbled(_))
        ));
        assert!(matches!(decode(&[]), Err(TokenError::Garbled(_))));
        assert!(matches!(
            decode(&enc(Value::from(2))),
            Err(TokenError::Garbled(_))
        ));
        assert!(matches!(
            decode(&enc(Value::Array(vec![]))),
            Err(TokenError::Garbled(_))
        ));
        assert!(matches!(
            decode(&enc(Value::Array(vec![Value::from(2), Value::from(1)]))),
            Err(TokenError::Garbled(_))
        ));
        assert!(matches!(
            decode(&enc(Value::Array(vec![Value::from(99)]))),
            Err(TokenError::UnknownVersion(99))
        ));
        assert!(matches!(
            decode(&enc(Value::Array(vec![Value::from(4)]))),
            Err(TokenError::UnsupportedVersion(4, _))
        ));
        assert!(matches!(
            decode(&enc(Value::Array(vec![Value::from("2")]))),
            Err(TokenError::Garbled(_))
        ));
        // A UUID flag with the wrong number of bytes.
        let mut v = rmpv::decode::read_value(&mut good.as_slice()).expect("decode");
        if let Value::Array(items) = &mut v {
            items[1] = Value::Array(vec![true.into(), Value::Binary(vec![1, 2, 3])]);
        }
        assert!(matches!(decode(&enc(v)), Err(TokenError::Garbled(_))));
    }

    #[test]
    fn old_msgpack_str_bytes_are_accepted() {
        // msgpack < 1.0 wrote bytes with the str type; Keystone still reads
        // such tokens, so must we.
        let audit = audit_id_to_bytes("mAjXQhiYRyKwkB4qygdLVg").expect("audit");
        let user = uuid_hex_to_bytes(USER).expect("uuid");
        // [0, [true, str(user)], 2, 1935817689, [str(audit)]], written by hand
        // because rmpv itself would write non-UTF-8 strings as bin.
        let mut bytes = vec![0x95, 0x00, 0x92, 0xc3, 0xb0];
        bytes.extend_from_slice(&user);
        bytes.extend_from_slice(&[0x02, 0xce]);
        bytes.extend_from_slice(&1_935_817_689u32.to_be_bytes());
        bytes.extend_from_slice(&[0x91, 0xb0]);
        bytes.extend_from_slice(&audit);
        let p = decode(&bytes).expect("decode");
        assert_eq!(p.user_id, USER);
        assert_eq!(p.audit_ids, ["mAjXQhiYRyKwkB4qygdLVg"]);
    }
}
