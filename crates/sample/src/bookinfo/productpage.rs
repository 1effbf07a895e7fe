//! `productpage`: the page users see, and a JSON API. It calls `details`
//! and `reviews` for every page, forwarding the trace headers and
//! `end-user` (set by signing in) so routing on the user works downstream.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::{Rsp, escape, html, json, not_found, propagated, respond};
use crate::call::Caller;

/// Error texts the page shows, worded as Istio's.
pub const DETAILS_ERROR: &str = "Error fetching product details!";
pub const REVIEWS_ERROR: &str = "Error fetching product reviews!";

const TITLE: &str = "The Comedy of Errors";
const SUMMARY: &str = "Wikipedia Summary: The Comedy of Errors is one of William Shakespeare's early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.";
/// Istio's productpage waits 3 s for each service and tries reviews twice.
const TIMEOUT: Duration = Duration::from_secs(3);
const REVIEWS_TRIES: usize = 2;
/// The longest sign-in form read.
const MAX_FORM: usize = 4096;

pub struct ProductPage {
    /// Base URLs: `http://details:9080`.
    pub details: Uri,
    pub reviews: Uri,
    pub ratings: Uri,
    pub caller: Caller,
}

// === impl ProductPage ===

impl ProductPage {
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Rsp {
        let path = req.uri().path().to_string();
        match (req.method().clone(), path.as_str()) {
            (Method::GET, "/") => html(StatusCode::OK, index()),
            (Method::GET, "/health") => json(
                StatusCode::OK,
                &serde_json::json!({ "status": "Product page is healthy" }),
            ),
            (Method::GET, "/productpage") => self.page(&req).await,
            (Method::POST, "/login") => login(req).await,
            (Method::GET, "/logout") => redirect("user=; Path=/; Max-Age=0"),
            (Method::GET, "/api/v1/products") => json(
                StatusCode::OK,
                &serde_json::json!([{ "id": 0, "title": TITLE, "descriptionHtml": SUMMARY }]),
            ),
            (Method::GET, p) if p.starts_with("/api/v1/products/") => self.api(&req, p).await,
            _ => not_found(&path),
        }
    }

    async fn page<B>(&self, req: &Request<B>) -> Rsp {
        let user = user(req);
        let headers = outgoing(req, user.as_deref());
        let (details, reviews) = tokio::join!(
            self.fetch(&self.details, "/details/0", &headers, 1),
            self.fetch(&self.reviews, "/reviews/0", &headers, REVIEWS_TRIES),
        );
        let mut page = String::with_capacity(4096);
        page.push_str(
            "<!DOCTYPE html>\n<html><head><title>Simple Bookstore App</title></head><body>\n",
        );
        match &user {
            Some(u) => {
                let _ = writeln!(
                    page,
                    "<nav>BookInfo Sample &middot; signed in as <b>{}</b> &middot; <a href=\"/logout\">sign out</a></nav>",
                    escape(u)
                );
            }
            None => page.push_str(
                "<nav>BookInfo Sample &middot; <form method=\"post\" action=\"/login\" style=\"display:inline\"><input name=\"username\" placeholder=\"user\"> <button>Sign in</button></form></nav>\n",
            ),
        }
        let _ = writeln!(page, "<h3>{TITLE}</h3>\n<p>{SUMMARY}</p>");
        page.push_str("<h4>Book Details</h4>\n");
        match details {
            Ok(d) => {
                page.push_str("<dl>\n");
                for (label, key) in [
                    ("Type", "type"),
                    ("Pages", "pages"),
                    ("Publisher", "publisher"),
                    ("Language", "language"),
                    ("ISBN-10", "ISBN-10"),
                    ("ISBN-13", "ISBN-13"),
                ] {
                    let value = match &d[key] {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let _ = writeln!(page, "<dt>{label}:</dt><dd>{}</dd>", escape(&value));
                }
                page.push_str("</dl>\n");
            }
            Err(e) => {
                let _ = writeln!(
                    page,
                    "<h4 class=\"error\">{DETAILS_ERROR}</h4>\n<!-- {} -->",
                    escape(&e)
                );
            }
        }
        page.push_str("<h4>Book Reviews</h4>\n");
        match reviews {
            Ok(r) => render_reviews(&mut page, &r),
            Err(e) => {
                let _ = writeln!(
                    page,
                    "<h4 class=\"error\">{REVIEWS_ERROR}</h4>\n<p>Sorry, product reviews are currently unavailable for this book.</p>\n<!-- {} -->",
                    escape(&e)
                );
            }
        }
        page.push_str("</body></html>\n");
        html(StatusCode::OK, page)
    }

    async fn api<B>(&self, req: &Request<B>, path: &str) -> Rsp {
        let headers = outgoing(req, user(req).as_deref());
        let rest = path.trim_start_matches("/api/v1/products/");
        let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
        let Ok(id) = id.parse::<u32>() else {
            return not_found(path);
        };
        let (base, sub, tries) = match what {
            "" => (&self.details, format!("/details/{id}"), 1),
            "reviews" => (&self.reviews, format!("/reviews/{id}"), REVIEWS_TRIES),
            "ratings" => (&self.ratings, format!("/ratings/{id}"), 1),
            _ => return not_found(path),
        };
        match self.fetch(base, &sub, &headers, tries).await {
            Ok(v) => json(StatusCode::OK, &v),
            Err(e) => json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({ "error": e }),
            ),
        }
    }

    /// GETs `base` + `path` as JSON, up to `tries` times.
    async fn fetch(
        &self,
        base: &Uri,
        path: &str,
        headers: &[(&'static str, String)],
        tries: usize,
    ) -> Result<serde_json::Value, String> {
        let uri: Uri = format!("{}{path}", base.to_string().trim_end_matches('/'))
            .parse()
            .map_err(|e| format!("{base}{path}: {e}"))?;
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut last = String::new();
        for _ in 0..tries.max(1) {
            match self.caller.get(&uri, &headers, TIMEOUT).await {
                Ok(r) if r.status == 200 => {
                    return serde_json::from_slice(&r.body)
                        .map_err(|e| format!("{uri} answered something that is not JSON: {e}"));
                }
                Ok(r) => last = format!("{uri} answered {}", r.status),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }
}

fn render_reviews(page: &mut String, r: &serde_json::Value) {
    for review in r["reviews"].as_array().into_iter().flatten() {
        let text = review["text"].as_str().unwrap_or_default();
        let reviewer = review["reviewer"].as_str().unwrap_or_default();
        let _ = writeln!(
            page,
            "<blockquote><p>{}</p><small>{}</small>",
            escape(text),
            escape(reviewer)
        );
        let rating = &review["rating"];
        if let Some(err) = rating["error"].as_str() {
            let _ = writeln!(page, "<p class=\"rating-error\"><i>{}</i></p>", escape(err));
        } else if let Some(stars) = rating["stars"].as_u64() {
            let color = match rating["color"].as_str() {
                Some("red") => "red",
                _ => "black",
            };
            let stars = stars.min(5) as usize;
            let _ = writeln!(
                page,
                "<p class=\"stars\"><font color=\"{color}\">{}{}</font></p>",
                "★".repeat(stars),
                "☆".repeat(5 - stars)
            );
        }
        page.push_str("</blockquote>\n");
    }
    let served_by = r["podname"].as_str().unwrap_or("unknown");
    let _ = writeln!(
        page,
        "<dl><dt>Reviews served by:</dt><dd><u>{}</u></dd></dl>",
        escape(served_by)
    );
}

fn index() -> String {
    "<!DOCTYPE html>\n<html><head><title>Simple Bookstore App</title></head><body>\n<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>\n<p>productpage calls details and reviews; reviews v2 and v3 call ratings.</p>\n<p><a href=\"/productpage?u=normal\">Normal user</a> &middot; <a href=\"/productpage?u=test\">Test user</a></p>\n</body></html>\n".into()
}

/// The signed-in user, from the `user` cookie.
fn user<B>(req: &Request<B>) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("user="))
        .filter(|u| valid_user(u))
        .map(str::to_string)
}

/// Headers for calls made on behalf of `req`: the propagated ones, plus
/// `end-user` for a signed-in user (as Istio's productpage sends).
fn outgoing<B>(req: &Request<B>, user: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = propagated(req);
    if let Some(u) = user
        && !headers.iter().any(|(k, _)| *k == "end-user")
    {
        headers.push(("end-user", u.to_string()));
    }
    headers
}

/// A user name is letters, digits, `.`, `_` and `-`: it goes into a
/// cookie and a header.
fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `POST /login` with `username=<name>`: sets the cookie and goes to the
/// product page.
async fn login(req: Request<Incoming>) -> Rsp {
    let body = match Limited::new(req.into_body(), MAX_FORM).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": format!("cannot read the form: {e}") }),
            );
        }
    };
    let form = String::from_utf8_lossy(&body);
    let user = form
        .split('&')
        .find_map(|kv| kv.strip_prefix("username="))
        .map(|v| v.replace('+', " "))
        .unwrap_or_default();
    if !valid_user(&user) {
        return json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "error": "a user name is 1 to 64 letters, digits, '.', '_' or '-'" }),
        );
    }
    redirect(&format!("user={user}; Path=/"))
}

fn redirect(cookie: &str) -> Rsp {
    let mut rsp = respond(StatusCode::FOUND, "text/plain", "see /productpage\n".into());
    if let Ok(v) = HeaderValue::from_str(cookie) {
        rsp.headers_mut().insert(header::SET_COOKIE, v);
    }
    rsp.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/productpage"));
    rsp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_come_from_the_cookie_and_must_be_plain() {
        let req = Request::get("/")
            .header("cookie", "theme=dark; user=jason")
            .body(())
            .unwrap();
        assert_eq!(user(&req).as_deref(), Some("jason"));
        let req = Request::get("/")
            .header("cookie", "user=<script>")
            .body(())
            .unwrap();
        assert_eq!(user(&req), None);
        let req = Request::get("/")
            .header("x-request-id", "abc")
            .body(())
            .unwrap();
        assert_eq!(
            outgoing(&req, Some("jason")),
            [
                ("x-request-id", "abc".to_string()),
                ("end-user", "jason".to_string())
            ]
        );
    }
}
