//! Single-use bootstrap tokens: how a workload without a certificate (a
//! local `weft up` workload, a VM) proves who it is to the CA. Each token
//! names one identity and works once, before it expires. Only digests are
//! kept, so the table holds nothing a reader could replay.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use crate::SpiffeId;

const PREFIX: &str = "weft-bootstrap.";

/// Tokens issued and not yet used.
#[derive(Debug, Default)]
pub struct Tokens {
    live: Mutex<HashMap<[u8; 32], Grant>>,
}

/// What a token lets its bearer become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: SpiffeId,
    pub expires: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no bootstrap token (send `authorization: Bearer <token>`)")]
    Missing,
    #[error(
        "the bootstrap token is unknown: never issued here, already used, or from before a restart"
    )]
    Unknown,
    #[error("the bootstrap token expired; issue a new one")]
    Expired,
}

// === impl Tokens ===

impl Tokens {
    /// A new token for `id`, valid once within `ttl`.
    pub fn issue(&self, id: SpiffeId, ttl: Duration) -> String {
        let mut secret = [0u8; 32];
        crate::random(&mut secret);
        let token = format!("{PREFIX}{}", hex::encode(secret));
        let grant = Grant {
            id,
            expires: SystemTime::now() + ttl,
        };
        let mut live = self.live.lock();
        // Expired tokens go whenever a new one comes.
        let now = SystemTime::now();
        live.retain(|_, g| g.expires > now);
        live.insert(digest(&token), grant);
        token
    }

    /// Takes the token out of the table: it cannot be used again unless
    /// [`Self::restore`] puts it back (the signing it was for failed).
    pub fn take(&self, token: Option<&str>) -> Result<Grant, TokenError> {
        let token = token.ok_or(TokenError::Missing)?;
        let grant = self
            .live
            .lock()
            .remove(&digest(token))
            .ok_or(TokenError::Unknown)?;
        if grant.expires <= SystemTime::now() {
            return Err(TokenError::Expired);
        }
        Ok(grant)
    }

    /// Returns a taken token to the table.
    pub fn restore(&self, token: &str, grant: Grant) {
        self.live.lock().insert(digest(token), grant);
    }

    pub fn len(&self) -> usize {
        self.live.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn digest(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_work_once_and_expire() {
        let tokens = Tokens::default();
        let id = SpiffeId::new("cluster.local", "default", "a").unwrap();
        let t = tokens.issue(id.clone(), Duration::from_secs(60));
        assert!(t.starts_with(PREFIX) && t.len() > 60);
        assert_eq!(tokens.take(Some(&t)).unwrap().id, id);
        assert_eq!(tokens.take(Some(&t)), Err(TokenError::Unknown));
        assert_eq!(tokens.take(None), Err(TokenError::Missing));
        assert_eq!(
            tokens.take(Some("weft-bootstrap.00")),
            Err(TokenError::Unknown)
        );

        let t = tokens.issue(id.clone(), Duration::from_secs(60));
        let g = tokens.take(Some(&t)).unwrap();
        tokens.restore(&t, g);
        assert!(tokens.take(Some(&t)).is_ok());

        let t = tokens.issue(id, Duration::ZERO);
        assert_eq!(tokens.take(Some(&t)), Err(TokenError::Expired));
    }
}
