//! The few calls of containerd's gRPC API that direct attach needs, over its
//! unix socket: list namespaces, list containers (labels, image, OCI spec),
//! get a container's task (PID, status).
//!
//! gRPC is HTTP/2 with each message framed as one flag byte, a big-endian
//! length and the protobuf bytes; the status comes in the `grpc-status`
//! trailer. `h2` speaks the HTTP/2 and `prost` the protobuf; the messages are
//! declared here with the field numbers of containerd's `api/` protos (1.6
//! and later keep them), so the build needs no `protoc`.

use std::path::Path;

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;

/// `containerd.services.namespaces.v1.ListNamespacesRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct ListNamespacesRequest {
    #[prost(string, tag = "1")]
    pub filter: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Namespace {
    #[prost(string, tag = "1")]
    pub name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ListNamespacesResponse {
    #[prost(message, repeated, tag = "1")]
    pub namespaces: Vec<Namespace>,
}

/// `containerd.services.containers.v1.ListContainersRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct ListContainersRequest {
    #[prost(string, repeated, tag = "1")]
    pub filters: Vec<String>,
}

/// `google.protobuf.Any`: the OCI spec, as JSON in `value`.
#[derive(Clone, PartialEq, Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `containerd.services.containers.v1.Container` (the fields nosh reads).
#[derive(Clone, PartialEq, Message)]
pub struct Container {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(map = "string, string", tag = "2")]
    pub labels: std::collections::HashMap<String, String>,
    #[prost(string, tag = "3")]
    pub image: String,
    #[prost(message, optional, tag = "5")]
    pub spec: Option<Any>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ListContainersResponse {
    #[prost(message, repeated, tag = "1")]
    pub containers: Vec<Container>,
}

/// `containerd.services.tasks.v1.GetRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct GetTaskRequest {
    #[prost(string, tag = "1")]
    pub container_id: String,
    #[prost(string, tag = "2")]
    pub exec_id: String,
}

/// `containerd.v1.types.Process` (the fields nosh reads).
#[derive(Clone, PartialEq, Message)]
pub struct Process {
    #[prost(string, tag = "1")]
    pub container_id: String,
    #[prost(uint32, tag = "3")]
    pub pid: u32,
    /// `containerd.v1.types.Status`: see [`TaskStatus`].
    #[prost(int32, tag = "4")]
    pub status: i32,
    #[prost(uint32, tag = "9")]
    pub exit_status: u32,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetTaskResponse {
    #[prost(message, optional, tag = "1")]
    pub process: Option<Process>,
}

/// `containerd.v1.types.Status`.
pub fn status_name(status: i32) -> &'static str {
    match status {
        1 => "created",
        2 => "running",
        3 => "stopped",
        4 => "paused",
        5 => "pausing",
        _ => "unknown",
    }
}

/// The task status that means running.
pub const RUNNING: i32 = 2;

/// gRPC's NOT_FOUND.
pub const NOT_FOUND: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot connect to containerd at {path}")]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("containerd answered {call}: {message} (gRPC status {code})")]
    Status {
        call: &'static str,
        code: u32,
        message: String,
    },
    #[error("containerd's answer to {call} could not be read: {reason}")]
    Protocol { call: &'static str, reason: String },
}

/// A connection to containerd, one HTTP/2 stream per call.
pub struct Client {
    send: h2::client::SendRequest<Bytes>,
}

impl Client {
    /// Connects to the socket at `path`; the HTTP/2 connection runs as a task
    /// of the current (single-threaded) runtime.
    pub async fn connect(path: &Path) -> Result<Client, ApiError> {
        let connect_err = |source| ApiError::Connect {
            path: path.display().to_string(),
            source,
        };
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(connect_err)?;
        let (send, connection) = h2::client::handshake(stream)
            .await
            .map_err(|e| connect_err(std::io::Error::other(e)))?;
        tokio::spawn(async move {
            // Ends when the client is dropped; an error then is no news.
            let _ = connection.await;
        });
        Ok(Client { send })
    }

    /// Every namespace's name.
    pub async fn namespaces(&mut self) -> Result<Vec<String>, ApiError> {
        let resp: ListNamespacesResponse = self
            .unary(
                "namespaces",
                None,
                "/containerd.services.namespaces.v1.Namespaces/List",
                &ListNamespacesRequest::default(),
            )
            .await?;
        Ok(resp.namespaces.into_iter().map(|n| n.name).collect())
    }

    /// Every container of namespace `ns`.
    pub async fn containers(&mut self, ns: &str) -> Result<Vec<Container>, ApiError> {
        let resp: ListContainersResponse = self
            .unary(
                "containers",
                Some(ns),
                "/containerd.services.containers.v1.Containers/List",
                &ListContainersRequest::default(),
            )
            .await?;
        Ok(resp.containers)
    }

    /// The task of container `id`, or `None` when it has none (created or
    /// stopped and deleted).
    pub async fn task(&mut self, ns: &str, id: &str) -> Result<Option<Process>, ApiError> {
        let req = GetTaskRequest {
            container_id: id.into(),
            exec_id: String::new(),
        };
        let got: Result<GetTaskResponse, ApiError> = self
            .unary(
                "tasks",
                Some(ns),
                "/containerd.services.tasks.v1.Tasks/Get",
                &req,
            )
            .await;
        match got {
            Ok(resp) => Ok(resp.process),
            Err(ApiError::Status { code, .. }) if code == NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn unary<Req: Message, Resp: Message + Default>(
        &mut self,
        call: &'static str,
        ns: Option<&str>,
        method: &str,
        req: &Req,
    ) -> Result<Resp, ApiError> {
        let proto = |reason: String| ApiError::Protocol { call, reason };
        let mut builder = http::Request::builder()
            .method("POST")
            .uri(format!("http://containerd{method}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(ns) = ns {
            builder = builder.header("containerd-namespace", ns);
        }
        let request = builder.body(()).map_err(|e| proto(e.to_string()))?;
        let send = self.send.clone();
        let mut send = send.ready().await.map_err(|e| proto(e.to_string()))?;
        let (response, mut body_out) = send
            .send_request(request, false)
            .map_err(|e| proto(e.to_string()))?;
        body_out
            .send_data(frame(req), true)
            .map_err(|e| proto(e.to_string()))?;
        let response = response.await.map_err(|e| proto(e.to_string()))?;
        let (parts, mut body) = response.into_parts();
        let mut data = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| proto(e.to_string()))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
            if data.len() > MAX_ANSWER {
                return Err(proto(format!("an answer over {MAX_ANSWER} bytes")));
            }
        }
        let trailers = body.trailers().await.map_err(|e| proto(e.to_string()))?;
        // A call that fails at once answers with headers only.
        let status_from = |h: &http::HeaderMap| {
            h.get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u32>().ok())
                .map(|code| {
                    let message = h
                        .get("grpc-message")
                        .map(|m| percent_decode(m.as_bytes()))
                        .unwrap_or_default();
                    (code, message)
                })
        };
        let status = trailers
            .as_ref()
            .and_then(status_from)
            .or_else(|| status_from(&parts.headers));
        match status {
            Some((0, _)) => {}
            Some((code, message)) => {
                return Err(ApiError::Status {
                    call,
                    code,
                    message: crate::term::escape::field(message.as_bytes()).into_owned(),
                });
            }
            None => return Err(proto("no grpc-status".into())),
        }
        let message = unframe(&data).map_err(proto)?;
        Resp::decode(message).map_err(|e| proto(e.to_string()))
    }
}

/// The largest answer read (a node with thousands of containers, each with
/// its spec, stays far below).
const MAX_ANSWER: usize = 64 << 20;

/// One gRPC message: flag 0 (not compressed), length, bytes.
fn frame(msg: &impl Message) -> Bytes {
    let body = msg.encode_to_vec();
    let mut out = BytesMut::with_capacity(5 + body.len());
    out.put_u8(0);
    out.put_u32(body.len() as u32);
    out.extend_from_slice(&body);
    out.freeze()
}

/// The one message of a unary answer.
fn unframe(data: &[u8]) -> Result<&[u8], String> {
    if data.is_empty() {
        return Ok(&[]);
    }
    if data.len() < 5 {
        return Err("a message frame shorter than its header".into());
    }
    if data[0] != 0 {
        return Err("a compressed message (none was asked for)".into());
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    data.get(5..5 + len)
        .ok_or_else(|| "a message frame longer than the answer".into())
}

/// `grpc-message` is percent-encoded.
fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if raw[i] == b'%'
            && let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_through_its_frame() {
        let req = GetTaskRequest {
            container_id: "web".into(),
            exec_id: String::new(),
        };
        let framed = frame(&req);
        assert_eq!(&framed[..5], &[0, 0, 0, 0, 5]);
        let back = GetTaskRequest::decode(unframe(&framed).unwrap()).unwrap();
        assert_eq!(back, req);
        assert!(unframe(&[0, 0, 0, 0, 9, 1]).is_err());
        assert!(unframe(&[1, 0, 0, 0, 0]).is_err());
        assert_eq!(unframe(&[]).unwrap(), &[] as &[u8]);
    }

    #[test]
    fn a_container_decodes_with_its_labels_and_spec() {
        let mut c = Container {
            id: "abc".into(),
            image: "docker.io/library/app:1".into(),
            spec: Some(Any {
                type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec".into(),
                value: br#"{"process":{"args":["/app"]}}"#.to_vec(),
            }),
            ..Default::default()
        };
        c.labels.insert("nerdctl/name".into(), "web".into());
        let list = ListContainersResponse {
            containers: vec![c.clone()],
        };
        let back = ListContainersResponse::decode(&list.encode_to_vec()[..]).unwrap();
        assert_eq!(back.containers, [c]);
    }

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(
            percent_decode(b"container %22x%22 not found"),
            "container \"x\" not found"
        );
        assert_eq!(percent_decode(b"100%"), "100%");
    }
}
