//! `reviews`, in three versions: v1 shows no ratings, v2 black stars and
//! v3 red ones, both fetched from `ratings`. When ratings cannot be had,
//! each review says so instead of failing the whole answer.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, StatusCode, Uri};

use super::{Rsp, json, not_found, product_id, propagated};
use crate::call::Caller;

const REVIEWS: [(&str, &str); 2] = [
    (
        "Reviewer1",
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    ),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
    ),
];

/// What a review shows when ratings fails (Istio's wording).
pub const RATINGS_UNAVAILABLE: &str = "Ratings service is currently unavailable";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
    V3,
}

pub struct Reviews {
    /// Reported as `podname`, which the product page shows.
    pub name: String,
    pub version: Version,
    /// The ratings service's base URL (`http://ratings:9080`).
    pub ratings: Uri,
    pub caller: Caller,
}

// === impl Version ===

impl std::str::FromStr for Version {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" => Ok(Self::V1),
            "v2" => Ok(Self::V2),
            "v3" => Ok(Self::V3),
            other => Err(format!(
                "unknown reviews version {other:?}: use v1, v2 or v3"
            )),
        }
    }
}

// === impl Reviews ===

impl Reviews {
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Rsp {
        let path = req.uri().path().to_string();
        if req.method() != Method::GET {
            return json(
                StatusCode::METHOD_NOT_ALLOWED,
                &serde_json::json!({ "error": "reviews only answers GET" }),
            );
        }
        if path == "/health" {
            return json(
                StatusCode::OK,
                &serde_json::json!({ "status": "Reviews is healthy" }),
            );
        }
        let Some(id) = product_id(&path, "/reviews") else {
            return not_found(&path);
        };
        let color = match self.version {
            Version::V1 => None,
            Version::V2 => Some("black"),
            Version::V3 => Some("red"),
        };
        let ratings = match color {
            Some(_) => Some(self.ratings(id, &propagated(&req)).await),
            None => None,
        };
        let reviews: Vec<serde_json::Value> = REVIEWS
            .iter()
            .map(|(reviewer, text)| {
                let mut review = serde_json::json!({ "reviewer": reviewer, "text": text });
                match (&ratings, color) {
                    (Some(Ok(stars)), Some(color)) => {
                        review["rating"] = serde_json::json!({
                            "stars": stars.get(*reviewer).cloned().unwrap_or(serde_json::Value::Null),
                            "color": color,
                        });
                    }
                    (Some(Err(_)), _) => {
                        review["rating"] = serde_json::json!({ "error": RATINGS_UNAVAILABLE });
                    }
                    _ => {}
                }
                review
            })
            .collect();
        json(
            StatusCode::OK,
            &serde_json::json!({
                "id": id.to_string(),
                "podname": self.name,
                "clustername": "null",
                "reviews": reviews,
            }),
        )
    }

    /// Each reviewer's stars, or why there are none.
    async fn ratings(
        &self,
        id: u32,
        headers: &[(&'static str, String)],
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        // Istio's reviews waits 10 s (v2) or 2.5 s (v3) for ratings.
        let timeout = match self.version {
            Version::V3 => Duration::from_millis(2500),
            _ => Duration::from_secs(10),
        };
        let uri: Uri = format!(
            "{}/ratings/{id}",
            self.ratings.to_string().trim_end_matches('/')
        )
        .parse()
        .map_err(|e| format!("ratings URL: {e}"))?;
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = self
            .caller
            .get(&uri, &headers, timeout)
            .await
            .map_err(|e| e.to_string())?;
        if reply.status != 200 {
            return Err(format!("ratings answered {}", reply.status));
        }
        let body: serde_json::Value =
            serde_json::from_slice(&reply.body).map_err(|e| format!("ratings' answer: {e}"))?;
        match body.get("ratings") {
            Some(serde_json::Value::Object(m)) => Ok(m.clone()),
            _ => Err("ratings' answer has no ratings".into()),
        }
    }
}
