//! Domain-specific configuration (`/v3/domains/{domain_id}/config`): per-domain values of
//! the `[identity]` and `[ldap]` options, as Keystone's domain config API stores them.
//! Only Keystone's whitelisted options are accepted; the LDAP password is stored but never
//! shown. oxstack keeps every user in SQL, so nothing reads these values yet; they are
//! stored and served for the clients and tools that manage them.

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::App;
use crate::model::{DEFAULT_DOMAIN, DomainConfigOption};

/// The options a domain may set (Keystone's `whitelisted_options`), with Keystone's
/// defaults (`/v3/domains/config/default`).
const IDENTITY_DEFAULTS: &[(&str, &str)] = &[("driver", r#""sql""#), ("list_limit", "null")];
const LDAP_DEFAULTS: &[(&str, &str)] = &[
    ("url", r#""ldap://localhost""#),
    ("user", "null"),
    ("suffix", r#""cn=example,cn=com""#),
    ("query_scope", r#""one""#),
    ("page_size", "0"),
    ("alias_dereferencing", r#""default""#),
    ("debug_level", "null"),
    ("chase_referrals", "null"),
    ("user_tree_dn", "null"),
    ("user_filter", "null"),
    ("user_objectclass", r#""inetOrgPerson""#),
    ("user_id_attribute", r#""cn""#),
    ("user_name_attribute", r#""sn""#),
    ("user_mail_attribute", r#""mail""#),
    ("user_description_attribute", r#""description""#),
    ("user_pass_attribute", r#""userPassword""#),
    ("user_enabled_attribute", r#""enabled""#),
    ("user_enabled_invert", "false"),
    ("user_enabled_mask", "0"),
    ("user_enabled_default", r#""True""#),
    ("user_attribute_ignore", r#"["default_project_id"]"#),
    ("user_default_project_id_attribute", "null"),
    ("user_enabled_emulation", "false"),
    ("user_enabled_emulation_dn", "null"),
    ("user_enabled_emulation_use_group_config", "false"),
    ("user_additional_attribute_mapping", "[]"),
    ("group_tree_dn", "null"),
    ("group_filter", "null"),
    ("group_objectclass", r#""groupOfNames""#),
    ("group_id_attribute", r#""cn""#),
    ("group_name_attribute", r#""ou""#),
    ("group_members_are_ids", "false"),
    ("group_member_attribute", r#""member""#),
    ("group_desc_attribute", r#""description""#),
    ("group_attribute_ignore", "[]"),
    ("group_additional_attribute_mapping", "[]"),
    ("tls_cacertfile", "null"),
    ("tls_cacertdir", "null"),
    ("use_tls", "false"),
    ("tls_req_cert", r#""demand""#),
    ("use_pool", "true"),
    ("pool_size", "10"),
    ("pool_retry_max", "3"),
    ("pool_retry_delay", "0.1"),
    ("pool_connection_timeout", "-1"),
    ("pool_connection_lifetime", "600"),
    ("use_auth_pool", "true"),
    ("auth_pool_size", "100"),
    ("auth_pool_connection_lifetime", "60"),
];
/// Options stored but never shown.
const SENSITIVE: &[(&str, &str)] = &[("ldap", "password")];
/// The group `GET /v3/domains/{id}/config/security_compliance` reads (anyone may).
const SECURITY_COMPLIANCE: &str = "security_compliance";

fn defaults_of(group: &str) -> Option<&'static [(&'static str, &'static str)]> {
    match group {
        "identity" => Some(IDENTITY_DEFAULTS),
        "ldap" => Some(LDAP_DEFAULTS),
        _ => None,
    }
}

/// Keystone's `InvalidDomainConfig` (a 403).
fn invalid_config(reason: &str) -> Error {
    Error::forbidden(format!("Invalid domain specific configuration: {reason}."))
}

/// Keystone's `DomainConfigNotFound`.
fn config_not_found(domain_id: &str, group: Option<&str>, option: Option<&str>) -> Error {
    let what = match (group, option) {
        (Some(g), Some(o)) => format!("option {o} in group {g}"),
        (Some(g), None) => format!("group {g}"),
        _ => "any options".to_string(),
    };
    Error::not_found(format!(
        "Could not find {what} in domain configuration for domain {domain_id}."
    ))
}

fn is_sensitive(group: &str, option: &str) -> bool {
    SENSITIVE.contains(&(group, option))
}

/// 403 unless `group` (and `option`) may be configured per domain.
fn check_group_and_option(group: Option<&str>, option: Option<&str>) -> Result<()> {
    let Some(group) = group else { return Ok(()) };
    let Some(known) = defaults_of(group) else {
        return Err(invalid_config(&format!(
            "Group {group} is not supported for domain specific configurations"
        )));
    };
    if let Some(o) = option
        && !known.iter().any(|(k, _)| *k == o)
        && !is_sensitive(group, o)
    {
        return Err(invalid_config(&format!(
            "Option {o} in group {group} is not supported for domain specific configurations"
        )));
    }
    Ok(())
}

/// Checks a request's `{group: {option: value}}` and flattens it into options.
fn options_of(config: &Map<String, Value>) -> Result<Vec<DomainConfigOption>> {
    if config.is_empty() {
        return Err(invalid_config("No options specified"));
    }
    let mut out = Vec::new();
    for (group, options) in config {
        let options = match options {
            Value::Object(m) if !m.is_empty() => m,
            _ => {
                return Err(invalid_config(&format!(
                    "The value of group {group} specified in the config should be a dictionary of options"
                )));
            }
        };
        for (option, value) in options {
            check_group_and_option(Some(group), Some(option))?;
            out.push(DomainConfigOption {
                group: group.clone(),
                option: option.clone(),
                value: value.clone(),
                sensitive: is_sensitive(group, option),
            });
        }
    }
    Ok(out)
}

/// `{group: {option: value}}` of the options that may be shown.
fn to_config(options: &[DomainConfigOption]) -> Map<String, Value> {
    let mut config = Map::new();
    for o in options.iter().filter(|o| !o.sensitive) {
        if let Value::Object(g) = config.entry(o.group.clone()).or_insert_with(|| json!({})) {
            g.insert(o.option.clone(), o.value.clone());
        }
    }
    config
}

/// The request's `config` object.
fn config_body(body: &Value) -> Result<Map<String, Value>> {
    match body.get("config") {
        Some(Value::Object(m)) => Ok(m.clone()),
        None => Ok(Map::new()),
        Some(_) => Err(super::invalid("config", "is not of type 'object'")),
    }
}

impl App {
    /// `GET /v3/domains/{id}/config[/{group}[/{option}]]`: the whole configuration,
    /// `{group: {...}}`, or `{option: value}`.
    pub async fn domain_config_get(
        &self,
        ctx: &RequestContext,
        domain_id: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<Map<String, Value>> {
        if group == Some(SECURITY_COMPLIANCE) {
            self.authorize(
                ctx,
                "identity:get_security_compliance_domain_config",
                &json!({"target": {"domain": {"id": domain_id}}}),
            )?;
            self.domain_get(domain_id).await?;
            return self.security_compliance_config(domain_id, option);
        }
        // Authorize before looking the domain up, so its existence does not leak.
        self.authorize(ctx, "identity:get_domain_config", &json!({}))?;
        self.domain_get(domain_id).await?;
        check_group_and_option(group, option)?;
        let shown: Vec<DomainConfigOption> = self
            .store
            .domain_config_list(domain_id, group, option)
            .await?
            .into_iter()
            .filter(|o| !o.sensitive)
            .collect();
        if shown.is_empty() {
            return Err(config_not_found(domain_id, group, option));
        }
        Ok(match option {
            Some(o) => Map::from_iter([(o.to_string(), shown[0].value.clone())]),
            None => to_config(&shown),
        })
    }

    /// oxstack has no password regex, so both readable options are `null`; only the
    /// default domain has them, as in Keystone.
    fn security_compliance_config(
        &self,
        domain_id: &str,
        option: Option<&str>,
    ) -> Result<Map<String, Value>> {
        if domain_id != DEFAULT_DOMAIN {
            return Err(invalid_config(
                "Reading security compliance information for any domain other than the default domain is not allowed or supported.",
            ));
        }
        const READABLE: &[&str] = &["password_regex", "password_regex_description"];
        match option {
            Some(o) if READABLE.contains(&o) => Ok(Map::from_iter([(o.to_string(), Value::Null)])),
            Some(_) => Err(invalid_config(
                "Reading security compliance values other than password_regex and password_regex_description is not allowed.",
            )),
            None => Ok(Map::from_iter([(
                SECURITY_COMPLIANCE.to_string(),
                Value::Object(
                    READABLE
                        .iter()
                        .map(|o| (o.to_string(), Value::Null))
                        .collect(),
                ),
            )])),
        }
    }

    /// `PUT /v3/domains/{id}/config`: replaces the configuration; `true` when there was
    /// none before (201 rather than 200).
    pub async fn domain_config_create(
        &self,
        ctx: &RequestContext,
        domain_id: &str,
        body: &Value,
    ) -> Result<(Map<String, Value>, bool)> {
        self.authorize(ctx, "identity:create_domain_config", &json!({}))?;
        self.domain_get(domain_id).await?;
        let options = options_of(&config_body(body)?)?;
        let existed = !self
            .store
            .domain_config_list(domain_id, None, None)
            .await?
            .is_empty();
        self.store
            .domain_config_write(domain_id, &options, true)
            .await?;
        let all = self.store.domain_config_list(domain_id, None, None).await?;
        Ok((to_config(&all), !existed))
    }

    /// `PATCH /v3/domains/{id}/config[/{group}[/{option}]]`: merges into the configuration;
    /// a group or option named in the path must already exist and be the only one in the
    /// body. Returns the whole configuration.
    pub async fn domain_config_update(
        &self,
        ctx: &RequestContext,
        domain_id: &str,
        group: Option<&str>,
        option: Option<&str>,
        body: &Value,
    ) -> Result<Map<String, Value>> {
        self.authorize(ctx, "identity:update_domain_config", &json!({}))?;
        self.domain_get(domain_id).await?;
        let mut config = config_body(body)?;
        if let (Some(g), Some(_)) = (group, option) {
            config = Map::from_iter([(g.to_string(), Value::Object(config))]);
        }
        let options = options_of(&config)?;
        check_group_and_option(group, option)?;
        if let Some(g) = group {
            let only_option = option.is_none_or(|o| {
                config
                    .get(g)
                    .and_then(Value::as_object)
                    .is_some_and(|m| m.len() == 1 && m.contains_key(o))
            });
            if config.len() != 1 || !config.contains_key(g) || !only_option {
                return Err(invalid_config(&match option {
                    Some(o) => format!(
                        "Trying to update option {o} in group {g}, so that, and only that, option must be specified  in the config"
                    ),
                    None => format!(
                        "Trying to update group {g}, so that, and only that, group must be specified in the config"
                    ),
                }));
            }
            if self
                .store
                .domain_config_list(domain_id, group, option)
                .await?
                .is_empty()
            {
                return Err(config_not_found(domain_id, group, option));
            }
        }
        self.store
            .domain_config_write(domain_id, &options, false)
            .await?;
        let all = self.store.domain_config_list(domain_id, None, None).await?;
        Ok(to_config(&all))
    }

    /// `DELETE /v3/domains/{id}/config[/{group}[/{option}]]`.
    pub async fn domain_config_delete(
        &self,
        ctx: &RequestContext,
        domain_id: &str,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<()> {
        self.authorize(ctx, "identity:delete_domain_config", &json!({}))?;
        self.domain_get(domain_id).await?;
        check_group_and_option(group, option)?;
        let n = self
            .store
            .domain_config_delete(domain_id, group, option)
            .await?;
        if n == 0 && group.is_some() {
            return Err(config_not_found(domain_id, group, option));
        }
        Ok(())
    }

    /// `GET /v3/domains/config[/{group}[/{option}]]/default`.
    pub fn domain_config_default(
        &self,
        ctx: &RequestContext,
        group: Option<&str>,
        option: Option<&str>,
    ) -> Result<Map<String, Value>> {
        self.authorize(ctx, "identity:get_domain_config_default", &json!({}))?;
        check_group_and_option(group, option)?;
        let parse = |v: &str| serde_json::from_str::<Value>(v).unwrap_or(Value::Null);
        let group_map = |g: &str| -> Value {
            Value::Object(
                defaults_of(g)
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, v)| (k.to_string(), parse(v)))
                    .collect(),
            )
        };
        match (group, option) {
            (Some(g), Some(o)) => {
                let v = defaults_of(g)
                    .unwrap_or_default()
                    .iter()
                    .find(|(k, _)| *k == o)
                    .map(|(_, v)| parse(v))
                    .ok_or_else(|| {
                        invalid_config(&format!(
                            "Reading the default for option {o} in group {g} is not supported"
                        ))
                    })?;
                Ok(Map::from_iter([(o.to_string(), v)]))
            }
            (Some(g), None) => Ok(Map::from_iter([(g.to_string(), group_map(g))])),
            _ => Ok(["identity", "ldap"]
                .iter()
                .map(|g| (g.to_string(), group_map(g)))
                .collect()),
        }
    }

    /// A deleted domain's configuration goes with it.
    pub(crate) async fn domain_config_drop(&self, domain_id: &str) -> Result<()> {
        self.store
            .domain_config_delete(domain_id, None, None)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        for (k, v) in IDENTITY_DEFAULTS.iter().chain(LDAP_DEFAULTS) {
            assert!(serde_json::from_str::<Value>(v).is_ok(), "{k}");
        }
    }

    #[test]
    fn unknown_groups_and_options_are_refused() {
        assert!(check_group_and_option(Some("ldap"), Some("password")).is_ok());
        assert!(check_group_and_option(Some("ldap"), Some("nope")).is_err());
        assert!(check_group_and_option(Some("assignment"), None).is_err());
        assert!(options_of(&Map::new()).is_err());
        let bad = json!({"identity": {}});
        assert!(options_of(bad.as_object().expect("object")).is_err());
    }

    #[test]
    fn sensitive_options_are_not_shown() {
        let c = json!({"ldap": {"password": "p", "url": "u"}});
        let opts = options_of(c.as_object().expect("object")).expect("valid");
        assert_eq!(
            Value::Object(to_config(&opts)),
            json!({"ldap": {"url": "u"}})
        );
    }
}
