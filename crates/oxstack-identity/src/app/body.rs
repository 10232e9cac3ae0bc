//! Reading request bodies the way Keystone's JSON schemas check them, with Keystone's 400
//! messages. Used by the catalog, application-credential and credential logic.

use oxstack_common::{Error, Result};
use serde_json::{Map, Value};

use super::invalid;

/// Python's `repr` of a JSON value, as jsonschema quotes it in its messages.
fn repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// `key` when it is a string; `None` when absent or `null`; 400 otherwise.
pub(crate) fn opt_str(body: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(invalid(
            key,
            &format!("{} is not of type 'string'", repr(v)),
        )),
    }
}

/// A required string of `min..=max` characters.
pub(crate) fn req_str(
    body: &Map<String, Value>,
    key: &str,
    min: usize,
    max: usize,
) -> Result<String> {
    let s = opt_str(body, key)?
        .ok_or_else(|| invalid(key, &format!("'{key}' is a required property")))?;
    check_len(key, &s, min, max)?;
    Ok(s)
}

/// 400 unless `s` has `min..=max` characters.
pub(crate) fn check_len(key: &str, s: &str, min: usize, max: usize) -> Result<()> {
    let n = s.chars().count();
    if n < min {
        return Err(invalid(key, &format!("'{s}' is too short")));
    }
    if n > max {
        return Err(invalid(key, &format!("'{s}' is too long")));
    }
    Ok(())
}

/// `key` when it is a boolean (never the strings `"True"`/`"False"`); `None` when absent.
pub(crate) fn opt_bool(body: &Map<String, Value>, key: &str) -> Result<Option<bool>> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(invalid(
            key,
            &format!("{} is not of type 'boolean'", repr(v)),
        )),
    }
}

/// 400 for an update body with nothing in it (`minProperties: 1`).
pub(crate) fn not_empty(body: &Map<String, Value>, key: &str) -> Result<()> {
    if body.is_empty() {
        return Err(invalid(key, "{} does not have enough properties"));
    }
    Ok(())
}

/// Keystone's `_require_matching_id`: an update body may repeat the id, not change it.
pub(crate) fn require_matching_id(body: &Map<String, Value>, id: &str) -> Result<()> {
    match body.get("id") {
        Some(Value::String(s)) if s != id => Err(Error::bad_request("Cannot change ID")),
        Some(Value::String(_)) | None => Ok(()),
        Some(v) => Err(invalid(
            "id",
            &format!("{} is not of type 'string'", repr(v)),
        )),
    }
}

/// 400 for a property the schema does not allow (`additionalProperties: false`).
pub(crate) fn only(body: &Map<String, Value>, allowed: &[&str]) -> Result<()> {
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Invalid input for field '': Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    Ok(())
}

/// The attributes of `body` that are not `core` ones: Keystone keeps them in `extra`.
pub(crate) fn extra_of(body: &Map<String, Value>, core: &[&str]) -> Map<String, Value> {
    body.iter()
        .filter(|(k, _)| !core.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Keystone's `ValidationError`: `Expecting to find {attribute} in {target}. ...`
pub(crate) fn expecting(attribute: &str, target: &str) -> Error {
    Error::bad_request(format!(
        "Expecting to find {attribute} in {target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error."
    ))
}

/// Keystone's `ForbiddenAction`.
pub(crate) fn forbidden_action(action: &str) -> Error {
    Error::forbidden(format!(
        "You are not authorized to perform the requested action: {action}"
    ))
}
