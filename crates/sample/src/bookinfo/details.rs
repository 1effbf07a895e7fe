//! `details`: the book's facts, as Istio's details service answers them.

use http::{Method, Request, StatusCode};

use super::{Rsp, json, not_found, product_id};

pub async fn handle<B>(req: Request<B>) -> Rsp {
    let path = req.uri().path();
    if req.method() != Method::GET {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({ "error": "details only answers GET" }),
        );
    }
    if path == "/health" {
        return json(
            StatusCode::OK,
            &serde_json::json!({ "status": "Details is healthy" }),
        );
    }
    match product_id(path, "/details") {
        Some(id) => json(StatusCode::OK, &book(id)),
        None => not_found(path),
    }
}

/// Istio's details service answers every id with the same book.
pub fn book(id: u32) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890",
    })
}
