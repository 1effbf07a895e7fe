//! Proxy registrations kept on disk (the state directory's
//! `registrations.bin`): each node as a length-delimited protobuf message.

use std::path::Path;

use prost::Message;
use weft_proto::discovery::Node;

/// The registrations an earlier run left; none when the file is missing
/// or unreadable (reported: the control plane then relearns endpoints as
/// proxies reconnect).
pub fn load(file: &Path) -> Vec<Node> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(file = %file.display(), "cannot read proxy registrations: {e}");
            return Vec::new();
        }
    };
    let mut buf = bytes.as_slice();
    let mut nodes = Vec::new();
    while !buf.is_empty() {
        match Node::decode_length_delimited(&mut buf) {
            Ok(n) => nodes.push(n),
            Err(e) => {
                tracing::warn!(file = %file.display(), "proxy registrations are damaged after {} entries: {e}", nodes.len());
                break;
            }
        }
    }
    nodes
}

/// Replaces the file with `nodes`, atomically.
pub fn save(file: &Path, nodes: &[Node]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for n in nodes {
        n.encode_length_delimited(&mut buf)
            .map_err(std::io::Error::other)?;
    }
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, buf)?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registrations.bin");
        assert!(load(&file).is_empty());
        let nodes = vec![
            Node {
                id: "a".into(),
                addresses: vec!["198.18.0.1".into()],
                ..Node::default()
            },
            Node {
                id: "b".into(),
                ..Node::default()
            },
        ];
        save(&file, &nodes).unwrap();
        assert_eq!(load(&file), nodes);
    }
}
