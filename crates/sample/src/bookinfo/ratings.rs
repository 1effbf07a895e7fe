//! `ratings`: two reviewers' stars for a book.

use http::{Method, Request, StatusCode};

use super::{Rsp, json, not_found, product_id};

pub async fn handle<B>(req: Request<B>) -> Rsp {
    let path = req.uri().path();
    if req.method() != Method::GET {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({ "error": "ratings only answers GET" }),
        );
    }
    if path == "/health" {
        return json(
            StatusCode::OK,
            &serde_json::json!({ "status": "Ratings is healthy" }),
        );
    }
    match product_id(path, "/ratings") {
        Some(id) => json(
            StatusCode::OK,
            &serde_json::json!({ "id": id, "ratings": { "Reviewer1": 5, "Reviewer2": 4 } }),
        ),
        None => not_found(path),
    }
}
