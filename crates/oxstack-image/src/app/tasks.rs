//! Tasks: the record each image import leaves (`GET /v2/images/{id}/tasks`), and the
//! deprecated admin-only tasks API (`/v2/tasks`).
//!
//! Imports here finish inside the request, so an import's task is `processing` only while
//! the request runs and ends `success` or `failure` before the 202. The tasks API creates no
//! work: its one task type that does anything in Glance, `import`, fetches an image from a
//! URL, and this service fetches nothing from the network on a user's behalf (as with
//! `web-download`), so such a task is refused at creation, as a Glance whose import URI
//! filter rejects the URI does.

use oxstack_common::context::{AuthInfo, RequestContext};
use oxstack_common::{Error, Result};
use serde_json::{Map, Value, json};

use super::{App, isotime, now};
use crate::model::{TASK_TYPES, Task, task_status};

/// How long a finished task is kept (Glance's `task_time_to_live`, 48 hours).
const TIME_TO_LIVE_MICROS: i64 = 48 * 3600 * 1_000_000;

/// Glance's database timestamps as its JSON serializer writes them
/// (`2026-01-01T00:00:00.000000`).
fn perfect_time(micros: i64) -> String {
    oxstack_common::time::micros_to_time(micros)
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

fn task_not_found(id: &str) -> Error {
    Error::not_found(format!("Task with identifier {id} not found"))
}

impl App {
    /// Starts the task of an import of image `image_id` requested with `body`.
    pub(crate) async fn task_begin(
        &self,
        ctx: &RequestContext,
        image_id: &str,
        body: &Value,
    ) -> Result<Task> {
        let auth = self.caller(ctx)?;
        let t = now();
        self.store.task_purge_expired(t).await?;
        let task = Task {
            id: uuid::Uuid::new_v4().to_string(),
            kind: "api_image_import".into(),
            status: task_status::PROCESSING.into(),
            owner: auth.project_id.clone(),
            image_id: Some(image_id.to_string()),
            request_id: Some(ctx.ids.local.clone()),
            user_id: Some(auth.user_id.clone()),
            input: Some(json!({"image_id": image_id, "import_req": body, "backend": [null]})),
            result: None,
            message: None,
            expires_at: None,
            created_at: t,
            updated_at: t,
        };
        self.store.task_create(&task).await?;
        Ok(task)
    }

    /// Records how an import's task ended.
    pub(crate) async fn task_end(&self, mut task: Task, outcome: &Result<()>) {
        let t = now();
        match outcome {
            Ok(()) => {
                task.status = task_status::SUCCESS.into();
                task.result = Some(json!({"image_id": task.image_id}));
            }
            Err(e) => {
                task.status = task_status::FAILURE.into();
                task.message = Some(e.message.to_string());
            }
        }
        task.updated_at = t;
        task.expires_at = Some(t + TIME_TO_LIVE_MICROS);
        if let Err(e) = self.store.task_finish(&task).await {
            // The import itself is done; only its record is stale.
            tracing::warn!(task = %task.id, error = %oxstack_common::http::error_chain(&e), "could not record the end of a task");
        }
    }

    /// Whether the caller may see a task (Glance's `_is_task_visible`).
    fn task_visible(&self, auth: &AuthInfo, t: &Task) -> bool {
        self.is_admin(auth) || t.owner.is_none() || t.owner == auth.project_id
    }

    /// `GET /v2/images/{id}/tasks`: the image's unexpired tasks the caller may see.
    pub async fn image_tasks(&self, ctx: &RequestContext, image_id: &str) -> Result<Vec<Task>> {
        let auth = self.caller(ctx)?;
        let im = self.image_for(ctx, image_id, "get_image").await?;
        let tasks = self.store.task_list(Some(&im.id), None, now()).await?;
        Ok(tasks
            .into_iter()
            .filter(|t| self.task_visible(auth, t))
            .collect())
    }

    /// A task as `GET /v2/images/{id}/tasks` shows it (Glance's database record).
    pub fn image_task_view(t: &Task) -> Value {
        json!({
            "id": t.id,
            "type": t.kind,
            "status": t.status,
            "owner": t.owner,
            "expires_at": t.expires_at.map(perfect_time),
            "created_at": perfect_time(t.created_at),
            "updated_at": perfect_time(t.updated_at),
            "deleted_at": null,
            "deleted": false,
            "image_id": t.image_id,
            "request_id": t.request_id,
            "user_id": t.user_id,
            "input": t.input,
            "result": t.result,
            "message": t.message.clone().unwrap_or_default(),
        })
    }

    /// A task as the tasks API shows it; `full` adds input, result and message.
    pub fn task_view(t: &Task, full: bool) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(t.id));
        m.insert("type".into(), json!(t.kind));
        m.insert("status".into(), json!(t.status));
        m.insert("owner".into(), json!(t.owner));
        if full {
            m.insert("input".into(), json!(t.input));
            m.insert("result".into(), json!(t.result));
            m.insert(
                "message".into(),
                json!(t.message.clone().unwrap_or_default()),
            );
            for (k, v) in [
                ("image_id", &t.image_id),
                ("request_id", &t.request_id),
                ("user_id", &t.user_id),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), json!(v));
                }
            }
        }
        if let Some(e) = t.expires_at {
            m.insert("expires_at".into(), json!(isotime(e)));
        }
        m.insert("created_at".into(), json!(isotime(t.created_at)));
        m.insert("updated_at".into(), json!(isotime(t.updated_at)));
        m.insert("self".into(), json!(format!("/v2/tasks/{}", t.id)));
        m.insert("schema".into(), json!("/v2/schemas/task"));
        Value::Object(m)
    }

    fn tasks_api_access<'a>(&self, ctx: &'a RequestContext) -> Result<&'a AuthInfo> {
        let auth = self.caller(ctx)?;
        self.authorize(
            auth,
            "tasks_api_access",
            &json!({"project_id": auth.project_id}),
        )?;
        Ok(auth)
    }

    /// `POST /v2/tasks`: checked as Glance checks it, then refused (see the module docs).
    pub async fn task_create(&self, ctx: &RequestContext, body: &Value) -> Result<Task> {
        let auth = self.tasks_api_access(ctx)?;
        let Value::Object(m) = body else {
            return Err(Error::bad_request("Body expected in request."));
        };
        for key in ["type", "input"] {
            if !m.contains_key(key) {
                return Err(Error::bad_request(format!("Task '{key}' is required")));
            }
        }
        let kind = m
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| TASK_TYPES.contains(t))
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "Provided object does not match schema 'task': {} is not one of {TASK_TYPES:?}",
                    m["type"]
                ))
            })?;
        let input = &m["input"];
        if !(input.is_object() || input.is_null()) {
            return Err(Error::bad_request(format!(
                "Provided object does not match schema 'task': {input} is not of type 'null', 'object'"
            )));
        }
        self.authorize(auth, "add_task", &json!({"project_id": auth.project_id}))?;
        match kind {
            "import" => {
                let uri = input
                    .get("import_from")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Err(Error::bad_request(format!(
                    "URI for legacy import task does not pass filtering: {uri}"
                )))
            }
            other => Err(Error::bad_request(format!(
                "Task type '{other}' is run by the image import API (POST /v2/images/{{image_id}}/import), not created directly."
            ))),
        }
    }

    /// `GET /v2/tasks`: every unexpired task for an admin, the project's for others.
    pub async fn task_list(&self, ctx: &RequestContext) -> Result<Vec<Task>> {
        let auth = self.tasks_api_access(ctx)?;
        self.authorize(auth, "get_tasks", &json!({"project_id": auth.project_id}))?;
        let owner = (!self.is_admin(auth))
            .then(|| auth.project_id.clone())
            .flatten();
        let tasks = self.store.task_list(None, owner.as_deref(), now()).await?;
        Ok(tasks
            .into_iter()
            .filter(|t| self.task_visible(auth, t))
            .collect())
    }

    /// `GET /v2/tasks/{id}`.
    pub async fn task_show(&self, ctx: &RequestContext, id: &str) -> Result<Task> {
        let auth = self.tasks_api_access(ctx)?;
        self.authorize(auth, "get_task", &json!({"project_id": auth.project_id}))?;
        let t = self
            .store
            .task_get(id)
            .await?
            .filter(|t| self.task_visible(auth, t))
            .filter(|t| t.expires_at.is_none_or(|e| e >= now()))
            .ok_or_else(|| task_not_found(id))?;
        Ok(t)
    }

    /// `DELETE /v2/tasks/{id}`: never allowed (tasks expire on their own).
    pub fn task_delete(&self, ctx: &RequestContext) -> Result<()> {
        self.tasks_api_access(ctx)?;
        Err(Error::new(
            oxstack_common::error::ErrorKind::MethodNotAllowed,
            "This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.",
        ))
    }
}
