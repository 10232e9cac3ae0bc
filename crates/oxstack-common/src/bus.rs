//! The message-bus seam: RPC (call and cast) between the controller and agents, and
//! notifications. The in-process implementation here is the all-in-one default; a RabbitMQ
//! implementation of the same trait serves multi-node clouds.
//!
//! Every message carries the method, the interface version of the topic's RPC API (kept in the
//! version history next to that API) and the request ids of the operation that sent it, so one
//! user request can be followed across processes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};

/// One RPC message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub method: String,
    /// The RPC API version the sender speaks (`"1.0"`).
    pub version: String,
    pub args: serde_json::Value,
    pub request_id: Option<String>,
    pub global_request_id: Option<String>,
}

/// A notification (`compute.instance.create.end` and friends).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    pub publisher_id: String,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub request_id: Option<String>,
}

/// What a bus operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("no server is listening on topic `{0}`")]
    NoServer(String),
    #[error("timed out waiting for a reply on topic `{0}`")]
    Timeout(String),
    #[error("the server on topic `{topic}` failed: {message}")]
    Remote { topic: String, message: String },
    #[error("bus transport failure")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A request delivered to a server; `reply` is present for calls and absent for casts.
#[derive(Debug)]
pub struct Incoming {
    pub message: Message,
    pub reply: Option<oneshot::Sender<Result<serde_json::Value, String>>>,
}

/// The bus seam.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Sends `msg` to one server on `topic` and waits for its reply.
    async fn call(
        &self,
        topic: &str,
        msg: Message,
        timeout: Duration,
    ) -> Result<serde_json::Value, BusError>;
    /// Sends `msg` to one server on `topic` without waiting.
    async fn cast(&self, topic: &str, msg: Message) -> Result<(), BusError>;
    /// Starts serving `topic`: requests arrive on the returned receiver.
    async fn serve(&self, topic: &str) -> Result<mpsc::Receiver<Incoming>, BusError>;
    /// Publishes a notification to every subscriber.
    async fn notify(&self, n: Notification) -> Result<(), BusError>;
    /// Subscribes to notifications.
    fn subscribe(&self) -> broadcast::Receiver<Notification>;
}

/// In-process bus: channels inside one process.
#[derive(Debug)]
pub struct InProcessBus {
    servers: Mutex<HashMap<String, mpsc::Sender<Incoming>>>,
    notifications: broadcast::Sender<Notification>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self {
            servers: Mutex::default(),
            notifications: broadcast::channel(1024).0,
        }
    }
}

impl InProcessBus {
    fn sender(&self, topic: &str) -> Result<mpsc::Sender<Incoming>, BusError> {
        let servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        servers
            .get(topic)
            .filter(|s| !s.is_closed())
            .cloned()
            .ok_or_else(|| BusError::NoServer(topic.to_string()))
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn call(
        &self,
        topic: &str,
        message: Message,
        timeout: Duration,
    ) -> Result<serde_json::Value, BusError> {
        let (tx, rx) = oneshot::channel();
        self.sender(topic)?
            .send(Incoming {
                message,
                reply: Some(tx),
            })
            .await
            .map_err(|_| BusError::NoServer(topic.to_string()))?;
        match tokio::time::timeout(timeout, rx).await {
            Err(_) => Err(BusError::Timeout(topic.to_string())),
            Ok(Err(_)) => Err(BusError::NoServer(topic.to_string())),
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(message))) => Err(BusError::Remote {
                topic: topic.to_string(),
                message,
            }),
        }
    }

    async fn cast(&self, topic: &str, message: Message) -> Result<(), BusError> {
        self.sender(topic)?
            .send(Incoming {
                message,
                reply: None,
            })
            .await
            .map_err(|_| BusError::NoServer(topic.to_string()))
    }

    async fn serve(&self, topic: &str) -> Result<mpsc::Receiver<Incoming>, BusError> {
        let (tx, rx) = mpsc::channel(256);
        self.servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(topic.to_string(), tx);
        Ok(rx)
    }

    async fn notify(&self, n: Notification) -> Result<(), BusError> {
        // No subscriber is not an error: notifications are fire-and-forget.
        let _ = self.notifications.send(n);
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.notifications.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(method: &str) -> Message {
        Message {
            method: method.into(),
            version: "1.0".into(),
            args: serde_json::json!({"x": 1}),
            request_id: Some("req-1".into()),
            global_request_id: None,
        }
    }

    #[tokio::test]
    async fn call_cast_and_notify() {
        let bus = InProcessBus::default();
        assert!(matches!(
            bus.cast("compute.h1", msg("a")).await,
            Err(BusError::NoServer(_))
        ));
        let mut rx = bus.serve("compute.h1").await.expect("serve");
        tokio::spawn(async move {
            while let Some(inc) = rx.recv().await {
                if let Some(reply) = inc.reply {
                    let r = if inc.message.method == "fail" {
                        Err("boom".to_string())
                    } else {
                        Ok(inc.message.args)
                    };
                    let _ = reply.send(r);
                }
            }
        });
        let v = bus
            .call("compute.h1", msg("echo"), Duration::from_secs(1))
            .await
            .expect("call");
        assert_eq!(v["x"], 1);
        let e = bus
            .call("compute.h1", msg("fail"), Duration::from_secs(1))
            .await;
        assert!(matches!(e, Err(BusError::Remote { .. })));
        bus.cast("compute.h1", msg("a")).await.expect("cast");

        let mut sub = bus.subscribe();
        let n = Notification {
            publisher_id: "compute.h1".into(),
            event_type: "x.end".into(),
            payload: serde_json::json!({}),
            request_id: None,
        };
        bus.notify(n.clone()).await.expect("notify");
        assert_eq!(sub.recv().await.expect("recv"), n);
    }

    #[tokio::test]
    async fn call_times_out_when_server_is_silent() {
        let bus = InProcessBus::default();
        let _rx = bus.serve("slow").await.expect("serve");
        let e = bus.call("slow", msg("x"), Duration::from_millis(20)).await;
        assert!(matches!(e, Err(BusError::Timeout(_))));
    }
}
