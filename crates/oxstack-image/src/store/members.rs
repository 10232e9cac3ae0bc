//! Image members (`image_member`): the projects a shared image is shared with.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store};
use crate::model::Member;

const COLUMNS: &str = "image_id, member, status, created_at, updated_at";

impl Store {
    fn member_from_row(r: &AnyRow) -> Result<Member> {
        Ok(Member {
            image_id: r.try_get("image_id")?,
            member_id: r.try_get("member")?,
            status: r.try_get("status")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// Adds a member; [`super::StoreError::Duplicate`] when it is one already.
    pub async fn member_create(&self, m: &Member) -> Result<()> {
        self.db
            .query(format!(
                "INSERT INTO image_member ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
            ))
            .bind(m.image_id.clone())
            .bind(m.member_id.clone())
            .bind(m.status.clone())
            .bind(m.created_at)
            .bind(m.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn member_get(&self, image_id: &str, member: &str) -> Result<Option<Member>> {
        let row = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM image_member WHERE image_id = ? AND member = ?"
            ))
            .bind(image_id.to_string())
            .bind(member.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(Self::member_from_row).transpose()
    }

    /// The members of an image, oldest first.
    pub async fn member_list(&self, image_id: &str) -> Result<Vec<Member>> {
        let rows = self
            .db
            .query(format!(
                "SELECT {COLUMNS} FROM image_member WHERE image_id = ? ORDER BY created_at, member"
            ))
            .bind(image_id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(Self::member_from_row).collect()
    }

    pub async fn member_count(&self, image_id: &str) -> Result<i64> {
        Ok(self
            .db
            .query_scalar("SELECT COUNT(*) FROM image_member WHERE image_id = ?")
            .bind(image_id.to_string())
            .fetch_one(self.db.pool())
            .await?)
    }

    /// Sets a member's status. Returns false when there is no such member.
    pub async fn member_update(
        &self,
        image_id: &str,
        member: &str,
        status: &str,
        now: i64,
    ) -> Result<bool> {
        let n = self
            .db
            .query(
                "UPDATE image_member SET status = ?, updated_at = ? WHERE image_id = ? AND member = ?",
            )
            .bind(status.to_string())
            .bind(now)
            .bind(image_id.to_string())
            .bind(member.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Removes a member. Returns whether it was one.
    pub async fn member_delete(&self, image_id: &str, member: &str) -> Result<bool> {
        let n = self
            .db
            .query("DELETE FROM image_member WHERE image_id = ? AND member = ?")
            .bind(image_id.to_string())
            .bind(member.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}
