//! Image members: sharing a `shared` image with other projects, who accept or reject it.
//!
//! The owner (or an admin) adds and removes members; only the member itself (or an admin)
//! sets its status. A member that is not the owner sees only its own membership.

use oxstack_common::context::RequestContext;
use oxstack_common::error::ErrorKind;
use oxstack_common::{Error, Result};
use serde_json::{Value, json};

use super::{App, isotime, limit_of, now};
use crate::model::{Image, MEMBER_STATUSES, Member};
use crate::store::StoreError;

fn only_shared(im: &Image) -> Result<()> {
    if im.visibility != "shared" {
        return Err(Error::forbidden("Only shared images have members."));
    }
    Ok(())
}

fn member_not_found(member: &str, image: &str) -> Error {
    Error::not_found(format!(
        "{member} not found in the member list of the image {image}."
    ))
}

impl App {
    /// The JSON Glance renders for a member.
    pub fn member_view(&self, m: &Member) -> Value {
        json!({
            "image_id": m.image_id,
            "member_id": m.member_id,
            "status": m.status,
            "created_at": isotime(m.created_at),
            "updated_at": isotime(m.updated_at),
            "schema": "/v2/schemas/member",
        })
    }

    /// Whether the caller sees every member of `im` (owner or admin) or only its own.
    fn sees_all_members(&self, ctx: &RequestContext, im: &Image) -> Result<bool> {
        let auth = self.caller(ctx)?;
        Ok(self.is_admin(auth) || (auth.project_id.is_some() && auth.project_id == im.owner))
    }

    /// `GET /v2/images/{id}/members`.
    pub async fn member_list(&self, ctx: &RequestContext, id: &str) -> Result<Vec<Member>> {
        let im = self.image_for(ctx, id, "get_image").await?;
        only_shared(&im).map_err(|e| {
            Error::forbidden(format!(
                "Not allowed to list members for image {id}: {}",
                e.message
            ))
        })?;
        let auth = self.caller(ctx)?;
        self.authorize_image(auth, "get_members", &im)?;
        let mut members = self.store.member_list(id).await?;
        if !self.sees_all_members(ctx, &im)? {
            members.retain(|m| Some(&m.member_id) == auth.project_id.as_ref());
        }
        Ok(members)
    }

    /// `GET /v2/images/{id}/members/{member}`.
    pub async fn member_show(
        &self,
        ctx: &RequestContext,
        id: &str,
        member: &str,
    ) -> Result<Member> {
        let im = self.image_for(ctx, id, "get_image").await?;
        only_shared(&im).map_err(|e| Error::not_found(e.message))?;
        let auth = self.caller(ctx)?;
        self.authorize_image(auth, "get_member", &im)
            .map_err(|e| match e.kind {
                ErrorKind::Forbidden => member_not_found(member, id),
                _ => e,
            })?;
        if !self.sees_all_members(ctx, &im)? && auth.project_id.as_deref() != Some(member) {
            return Err(member_not_found(member, id));
        }
        self.store
            .member_get(id, member)
            .await?
            .ok_or_else(|| member_not_found(member, id))
    }

    /// `POST /v2/images/{id}/members`.
    pub async fn member_create(
        &self,
        ctx: &RequestContext,
        id: &str,
        member: &str,
    ) -> Result<Member> {
        let im = self.image_for(ctx, id, "get_image").await?;
        only_shared(&im)?;
        let auth = self.caller(ctx)?;
        self.authorize_image(auth, "add_member", &im)
            .map_err(|e| match e.kind {
                ErrorKind::Forbidden => {
                    Error::forbidden(format!("Not allowed to create members for image {id}."))
                }
                _ => e,
            })?;
        let duplicate = || Error::conflict(format!("Member {member} is duplicated for image {id}"));
        if self.store.member_get(id, member).await?.is_some() {
            return Err(duplicate());
        }
        if let Some(max) = limit_of(self.config.image_member_quota) {
            let n = self.store.member_count(id).await?;
            if n as u64 >= max {
                return Err(Error::new(
                    ErrorKind::PayloadTooLarge,
                    format!(
                        "Image member limit exceeded for image {id}: The limit has been exceeded: {max}."
                    ),
                ));
            }
        }
        let t = now();
        let m = Member {
            image_id: id.to_string(),
            member_id: member.to_string(),
            status: "pending".into(),
            created_at: t,
            updated_at: t,
        };
        match self.store.member_create(&m).await {
            Ok(()) => Ok(m),
            Err(StoreError::Duplicate) => Err(duplicate()),
            Err(e) => Err(e.into()),
        }
    }

    /// `PUT /v2/images/{id}/members/{member}`: the member accepts, rejects or defers.
    pub async fn member_update(
        &self,
        ctx: &RequestContext,
        id: &str,
        member: &str,
        status: &str,
    ) -> Result<Member> {
        if !MEMBER_STATUSES.contains(&status) {
            return Err(Error::bad_request(format!(
                "Incorrect request: Invalid status: {status}"
            )));
        }
        let im = self.image_for(ctx, id, "get_image").await?;
        only_shared(&im)?;
        let auth = self.caller(ctx)?;
        let mut m = self.member_show(ctx, id, member).await?;
        let forbidden =
            || Error::forbidden(format!("Not allowed to update members for image {id}."));
        self.authorize_image(auth, "modify_member", &im)
            .map_err(|e| match e.kind {
                ErrorKind::Forbidden => forbidden(),
                _ => e,
            })?;
        if !self.is_admin(auth) && auth.project_id.as_deref() != Some(member) {
            return Err(forbidden());
        }
        let t = now();
        if !self.store.member_update(id, member, status, t).await? {
            return Err(member_not_found(member, id));
        }
        m.status = status.to_string();
        m.updated_at = t;
        Ok(m)
    }

    /// `DELETE /v2/images/{id}/members/{member}`.
    pub async fn member_delete(&self, ctx: &RequestContext, id: &str, member: &str) -> Result<()> {
        let im = self.image_for(ctx, id, "get_image").await?;
        only_shared(&im)?;
        let auth = self.caller(ctx)?;
        self.member_show(ctx, id, member).await?;
        self.authorize_image(auth, "delete_member", &im)
            .map_err(|e| match e.kind {
                ErrorKind::Forbidden => {
                    Error::forbidden(format!("Not allowed to delete members for image {id}."))
                }
                _ => e,
            })?;
        if self.store.member_delete(id, member).await? {
            Ok(())
        } else {
            Err(member_not_found(member, id))
        }
    }
}
