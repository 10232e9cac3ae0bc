//! A QMP client (the QEMU Machine Protocol, JSON lines over the guest's unix socket): the
//! greeting, capabilities negotiation, then one command at a time. Asynchronous events the
//! guest sends in between (`POWERDOWN`, `STOP`, ...) are skipped.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// How long one QMP exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What talking to QEMU can fail with.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("cannot reach the QMP socket")]
    Io(#[from] std::io::Error),
    #[error("QMP timed out")]
    Timeout,
    #[error("QMP closed the connection")]
    Closed,
    #[error("QMP sent something unexpected: {0}")]
    Protocol(String),
    #[error("QMP command failed: {class}: {desc}")]
    Command { class: String, desc: String },
}

/// A negotiated QMP connection.
#[derive(Debug)]
pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Qmp {
    /// Connects, reads the greeting and leaves capabilities negotiation mode.
    pub async fn connect(path: &Path) -> Result<Qmp, QmpError> {
        let stream = tokio::time::timeout(TIMEOUT, UnixStream::connect(path))
            .await
            .map_err(|_| QmpError::Timeout)??;
        let (r, w) = stream.into_split();
        let mut q = Qmp {
            reader: BufReader::new(r),
            writer: w,
        };
        let greeting = q.read().await?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Protocol(format!("no greeting: {greeting}")));
        }
        q.execute("qmp_capabilities", None).await?;
        Ok(q)
    }

    async fn read(&mut self) -> Result<Value, QmpError> {
        let mut line = String::new();
        let n = tokio::time::timeout(TIMEOUT, self.reader.read_line(&mut line))
            .await
            .map_err(|_| QmpError::Timeout)??;
        if n == 0 {
            return Err(QmpError::Closed);
        }
        serde_json::from_str(&line).map_err(|e| QmpError::Protocol(e.to_string()))
    }

    /// Runs one command and returns its `return` value.
    pub async fn execute(&mut self, command: &str, args: Option<Value>) -> Result<Value, QmpError> {
        let mut msg = json!({ "execute": command });
        if let Some(a) = args {
            msg["arguments"] = a;
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(b'\n');
        tokio::time::timeout(TIMEOUT, self.writer.write_all(&bytes))
            .await
            .map_err(|_| QmpError::Timeout)??;
        loop {
            let v = self.read().await?;
            if v.get("event").is_some() {
                continue;
            }
            if let Some(r) = v.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = v.get("error") {
                return Err(QmpError::Command {
                    class: e["class"].as_str().unwrap_or("GenericError").into(),
                    desc: e["desc"].as_str().unwrap_or_default().into(),
                });
            }
            return Err(QmpError::Protocol(v.to_string()));
        }
    }

    /// `query-status`: the run state (`running`, `paused`, `shutdown`, `suspended`, ...).
    pub async fn status(&mut self) -> Result<String, QmpError> {
        let v = self.execute("query-status", None).await?;
        v["status"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| QmpError::Protocol(format!("query-status without status: {v}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A QMP server that answers like QEMU: greeting, capabilities, then canned replies
    /// (with an event before each), recording the commands it got.
    async fn fake_server(path: &Path) -> tokio::task::JoinHandle<Vec<String>> {
        let listener = UnixListener::bind(path).expect("bind");
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.expect("accept");
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .await
                .expect("greet");
            let mut got = Vec::new();
            let mut line = String::new();
            while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                let v: Value = serde_json::from_str(&line).expect("json");
                let cmd = v["execute"].as_str().unwrap_or_default().to_string();
                line.clear();
                let reply = match cmd.as_str() {
                    "query-status" => json!({"return": {"status": "paused", "running": false}}),
                    "bogus" => {
                        json!({"error": {"class": "CommandNotFound", "desc": "The command bogus has not been found"}})
                    }
                    _ => json!({"return": {}}),
                };
                got.push(cmd);
                w.write_all(b"{\"event\": \"STOP\", \"timestamp\": {}}\n")
                    .await
                    .expect("event");
                w.write_all(format!("{reply}\n").as_bytes())
                    .await
                    .expect("reply");
            }
            got
        })
    }

    #[tokio::test]
    async fn negotiates_skips_events_and_maps_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("qmp.sock");
        let server = fake_server(&sock).await;
        let mut q = Qmp::connect(&sock).await.expect("connect");
        assert_eq!(q.status().await.expect("status"), "paused");
        q.execute("cont", None).await.expect("cont");
        match q.execute("bogus", None).await {
            Err(QmpError::Command { class, .. }) => assert_eq!(class, "CommandNotFound"),
            other => panic!("unexpected {other:?}"),
        }
        q.execute("system_powerdown", Some(json!({})))
            .await
            .expect("powerdown");
        drop(q);
        let got = server.await.expect("server");
        assert_eq!(
            got,
            [
                "qmp_capabilities",
                "query-status",
                "cont",
                "bogus",
                "system_powerdown"
            ]
        );
    }

    #[tokio::test]
    async fn refuses_a_server_without_greeting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            s.write_all(b"{\"hello\": 1}\n").await.expect("write");
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        assert!(matches!(
            Qmp::connect(&sock).await,
            Err(QmpError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn a_missing_socket_is_an_io_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            Qmp::connect(&dir.path().join("none")).await,
            Err(QmpError::Io(_))
        ));
    }
}
