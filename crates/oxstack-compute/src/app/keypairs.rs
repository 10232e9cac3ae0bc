//! Keypairs: import and generation (ed25519 and RSA), per user, with Nova's fingerprints
//! (MD5 of the key blob for ssh keys, SHA-1 of the certificate for x509).

use oxstack_common::context::RequestContext;
use oxstack_common::{Error, Result};
use serde_json::json;

use super::{App, Caller, now};
use crate::model::Keypair;
use crate::store::StoreError;

/// A keypair and, when generated, its private key.
#[derive(Debug, Clone)]
pub struct CreatedKeypair {
    pub keypair: Keypair,
    pub private_key: Option<String>,
}

/// What `POST /os-keypairs` asks for.
#[derive(Debug, Clone)]
pub struct KeypairCreate {
    pub name: String,
    pub key_type: String,
    pub public_key: Option<String>,
    pub user_id: Option<String>,
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn invalid_keypair(why: &str) -> Error {
    Error::bad_request(format!("Keypair data is invalid: {why}"))
}

/// Nova's fingerprint of an OpenSSH public key line.
pub fn ssh_fingerprint(public_key: &str) -> Result<String> {
    use md5::Digest;
    let key = ssh_key::PublicKey::from_openssh(public_key.trim())
        .map_err(|_| invalid_keypair("failed to generate fingerprint"))?;
    let blob = key
        .to_bytes()
        .map_err(|_| invalid_keypair("failed to generate fingerprint"))?;
    Ok(colon_hex(&md5::Md5::digest(&blob)))
}

fn x509_fingerprint(pem: &str) -> Result<String> {
    use base64::Engine;
    use sha1::Digest;
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    if !pem.contains("BEGIN CERTIFICATE") {
        return Err(invalid_keypair("failed to generate fingerprint"));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|_| invalid_keypair("failed to generate fingerprint"))?;
    Ok(colon_hex(&sha1::Sha1::digest(&der)))
}

/// A new key pair: `(private key in OpenSSH format, public key line)`.
fn generate(algorithm: &str) -> Result<(String, String)> {
    use ssh_key::rand_core::OsRng;
    let fail = |e: ssh_key::Error| Error::internal("keypair generation", e);
    let mut private = match algorithm {
        "ed25519" => {
            ssh_key::PrivateKey::random(&mut OsRng, ssh_key::Algorithm::Ed25519).map_err(fail)?
        }
        _ => {
            let kp = ssh_key::private::RsaKeypair::random(&mut OsRng, 2048).map_err(fail)?;
            ssh_key::PrivateKey::from(kp)
        }
    };
    private.set_comment("Generated-by-Nova");
    let pem = private
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(fail)?
        .to_string();
    let public = private.public_key().to_openssh().map_err(fail)?;
    Ok((pem, public))
}

impl App {
    /// The user whose keypairs a request is about: the caller, or (admins, 2.10+) another.
    fn keypair_user<'a>(&self, c: &'a Caller<'_>, user_id: Option<&'a str>) -> &'a str {
        user_id.unwrap_or(c.user_id())
    }

    pub async fn keypair_create(
        &self,
        ctx: &RequestContext,
        req: KeypairCreate,
    ) -> Result<CreatedKeypair> {
        let c = self.caller(ctx)?;
        let user = self.keypair_user(&c, req.user_id.as_deref()).to_string();
        self.authorize(
            &c,
            "os_compute_api:os-keypairs:create",
            &json!({"user_id": user}),
        )?;
        if req.name.is_empty()
            || req.name.len() > 255
            || !req
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || " _-".contains(ch))
        {
            return Err(invalid_keypair("Keypair name contains unsafe characters"));
        }
        if req.name.trim() != req.name {
            return Err(invalid_keypair(
                "Keypair name must be string and between 1 and 255 characters long",
            ));
        }
        let limit = self.quota_limit(c.project_id(), "key_pairs").await?;
        let used = self.store.keypair_count(&user).await?;
        if limit >= 0 && used + 1 > limit {
            return Err(Error::forbidden("Quota exceeded, too many key pairs."));
        }
        let (public_key, private_key) = match req.public_key {
            Some(p) => (p, None),
            None if req.key_type == "x509" => {
                let cn = user.clone();
                let (private, cert) =
                    tokio::task::spawn_blocking(move || super::x509::generate(&cn))
                        .await
                        .map_err(|e| Error::internal("keypair generation", e))?
                        .map_err(|e| Error::internal("keypair generation", e))?;
                (cert, Some(private))
            }
            None => {
                let algorithm = self.config.keypair_generate_algorithm.clone();
                let (private, public) = tokio::task::spawn_blocking(move || generate(&algorithm))
                    .await
                    .map_err(|e| Error::internal("keypair generation", e))??;
                (public, Some(private))
            }
        };
        let fingerprint = if req.key_type == "x509" {
            x509_fingerprint(&public_key)?
        } else {
            ssh_fingerprint(&public_key)?
        };
        let mut k = Keypair {
            id: 0,
            user_id: user,
            name: req.name.clone(),
            fingerprint,
            public_key: public_key.trim().to_string(),
            key_type: req.key_type,
            created_at: now(),
        };
        match self.store.keypair_create(&k).await {
            Ok(id) => k.id = id,
            Err(StoreError::Duplicate) => {
                return Err(Error::conflict(format!(
                    "Key pair '{}' already exists.",
                    req.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(CreatedKeypair {
            keypair: k,
            private_key,
        })
    }

    pub async fn keypair_list(
        &self,
        ctx: &RequestContext,
        user_id: Option<&str>,
        limit: Option<usize>,
        marker: Option<&str>,
    ) -> Result<Vec<Keypair>> {
        let c = self.caller(ctx)?;
        let user = self.keypair_user(&c, user_id).to_string();
        self.authorize(
            &c,
            "os_compute_api:os-keypairs:index",
            &json!({"user_id": user}),
        )?;
        let mut all = self.store.keypair_list(&user).await?;
        if let Some(m) = marker {
            let pos = all
                .iter()
                .position(|k| k.name == m)
                .ok_or_else(|| Error::bad_request(format!("marker [{m}] not found")))?;
            all.drain(..=pos);
        }
        if let Some(l) = limit {
            all.truncate(l);
        }
        Ok(all)
    }

    pub async fn keypair_show(
        &self,
        ctx: &RequestContext,
        name: &str,
        user_id: Option<&str>,
    ) -> Result<Keypair> {
        let c = self.caller(ctx)?;
        let user = self.keypair_user(&c, user_id).to_string();
        self.authorize(
            &c,
            "os_compute_api:os-keypairs:show",
            &json!({"user_id": user}),
        )?;
        self.store
            .keypair_get(&user, name)
            .await?
            .ok_or_else(|| Error::not_found(format!("Keypair {name} not found for user {user}")))
    }

    pub async fn keypair_delete(
        &self,
        ctx: &RequestContext,
        name: &str,
        user_id: Option<&str>,
    ) -> Result<()> {
        let c = self.caller(ctx)?;
        let user = self.keypair_user(&c, user_id).to_string();
        self.authorize(
            &c,
            "os_compute_api:os-keypairs:delete",
            &json!({"user_id": user}),
        )?;
        if !self.store.keypair_delete(&user, name).await? {
            return Err(Error::not_found(format!(
                "Keypair {name} not found for user {user}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_and_generation() {
        let (_, public) = generate("ed25519").expect("ed25519");
        assert!(public.starts_with("ssh-ed25519 "));
        let fp = ssh_fingerprint(&public).expect("fingerprint");
        assert_eq!(fp.len(), 47, "{fp}");
        assert!(ssh_fingerprint("ssh-rsa not-a-key").is_err());
    }
}
