//! The bookinfo sample over real sockets: what the product page shows for
//! each reviews version and when a service fails, signing in, and the API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use weft_sample::bookinfo::productpage::{DETAILS_ERROR, ProductPage, REVIEWS_ERROR};
use weft_sample::bookinfo::reviews::{RATINGS_UNAVAILABLE, Reviews, Version};
use weft_sample::bookinfo::{self, details, ratings};
use weft_sample::call::Caller;

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

fn url(addr: SocketAddr) -> http::Uri {
    format!("http://{addr}").parse().unwrap()
}

/// An address nothing listens on.
async fn dead() -> SocketAddr {
    listener().await.1
}

async fn start_details() -> SocketAddr {
    let (l, a) = listener().await;
    tokio::spawn(bookinfo::serve(l, details::handle));
    a
}

async fn start_ratings() -> SocketAddr {
    let (l, a) = listener().await;
    tokio::spawn(bookinfo::serve(l, ratings::handle));
    a
}

async fn start_reviews(version: Version, ratings: SocketAddr) -> SocketAddr {
    let (l, a) = listener().await;
    let app = Arc::new(Reviews {
        name: format!("reviews-{version:?}").to_lowercase(),
        version,
        ratings: url(ratings),
        caller: Caller::new(None),
    });
    tokio::spawn(bookinfo::serve(l, move |req| app.clone().handle(req)));
    a
}

async fn start_page(details: SocketAddr, reviews: SocketAddr, ratings: SocketAddr) -> SocketAddr {
    let (l, a) = listener().await;
    let app = Arc::new(ProductPage {
        details: url(details),
        reviews: url(reviews),
        ratings: url(ratings),
        caller: Caller::new(None),
    });
    tokio::spawn(bookinfo::serve(l, move |req| app.clone().handle(req)));
    a
}

/// One raw HTTP/1.1 exchange; returns the whole answer as text.
async fn raw(addr: SocketAddr, request: String) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

async fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> String {
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: productpage\r\n{cookie}Connection: close\r\n\r\n"),
    )
    .await
}

#[tokio::test]
async fn each_reviews_version_shows_its_stars_and_names_itself() {
    let (details, ratings) = (start_details().await, start_ratings().await);
    for (version, stars) in [
        (Version::V1, None),
        (Version::V2, Some("<font color=\"black\">★★★★★</font>")),
        (Version::V3, Some("<font color=\"red\">★★★★★</font>")),
    ] {
        let reviews = start_reviews(version, ratings).await;
        let page = get(
            start_page(details, reviews, ratings).await,
            "/productpage",
            None,
        )
        .await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        let name = format!("reviews-{version:?}").to_lowercase();
        assert!(page.contains(&format!("<u>{name}</u>")), "{page}");
        assert!(
            page.contains("<dt>ISBN-10:</dt><dd>1234567890</dd>"),
            "{page}"
        );
        match stars {
            Some(s) => {
                assert!(page.contains(s), "{version:?}: {page}");
                assert!(page.contains("★★★★☆"), "Reviewer2 gives 4: {page}");
            }
            None => assert!(!page.contains('★'), "v1 has no stars: {page}"),
        }
    }
}

#[tokio::test]
async fn failures_read_as_in_istios_tasks() {
    let (details, ratings) = (start_details().await, start_ratings().await);
    // Ratings down: reviews still answer, each saying so.
    let reviews = start_reviews(Version::V2, dead().await).await;
    let page = get(
        start_page(details, reviews, ratings).await,
        "/productpage",
        None,
    )
    .await;
    assert!(page.contains(RATINGS_UNAVAILABLE), "{page}");
    assert!(!page.contains(REVIEWS_ERROR), "{page}");
    // Reviews down, and details down.
    let page = get(
        start_page(dead().await, dead().await, ratings).await,
        "/productpage",
        None,
    )
    .await;
    assert!(
        page.starts_with("HTTP/1.1 200"),
        "the page itself is served: {page}"
    );
    assert!(page.contains(REVIEWS_ERROR), "{page}");
    assert!(page.contains(DETAILS_ERROR), "{page}");
}

#[tokio::test]
async fn signing_in_sends_end_user_downstream() {
    let (details, ratings) = (start_details().await, start_ratings().await);
    // An echo app as "reviews" shows the headers productpage sent it.
    let (l, echo) = listener().await;
    tokio::spawn(async move { weft_sample::echo::serve(l, "reviews").await });
    let page = start_page(details, echo, ratings).await;

    let login = raw(
        page,
        "POST /login HTTP/1.1\r\nHost: productpage\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\nConnection: close\r\n\r\nusername=jason".into(),
    )
    .await;
    assert!(login.starts_with("HTTP/1.1 302"), "{login}");
    assert!(
        login
            .to_ascii_lowercase()
            .contains("set-cookie: user=jason; path=/"),
        "{login}"
    );

    let api = get(page, "/api/v1/products/0/reviews", Some("user=jason")).await;
    assert!(api.contains("\"end-user\":\"jason\""), "{api}");
    let api = get(page, "/api/v1/products/0/reviews", None).await;
    assert!(!api.contains("end-user"), "{api}");
    let html = get(page, "/productpage", Some("user=jason")).await;
    assert!(html.contains("signed in as <b>jason</b>"), "{html}");

    let bad = raw(
        page,
        "POST /login HTTP/1.1\r\nHost: productpage\r\nContent-Length: 26\r\nConnection: close\r\n\r\nusername=%3Cscript%3E%0D%0A".into(),
    )
    .await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
}

#[tokio::test]
async fn the_api_answers_json() {
    let (details, ratings) = (start_details().await, start_ratings().await);
    let reviews = start_reviews(Version::V3, ratings).await;
    let page = start_page(details, reviews, ratings).await;
    let products = get(page, "/api/v1/products", None).await;
    assert!(
        products.contains("\"title\":\"The Comedy of Errors\""),
        "{products}"
    );
    let book = get(page, "/api/v1/products/0", None).await;
    assert!(
        book.contains("\"author\":\"William Shakespeare\""),
        "{book}"
    );
    let stars = get(page, "/api/v1/products/0/ratings", None).await;
    assert!(stars.contains("\"Reviewer1\":5"), "{stars}");
    let reviews = get(page, "/api/v1/products/0/reviews", None).await;
    assert!(reviews.contains("\"color\":\"red\""), "{reviews}");
    assert!(
        get(page, "/api/v1/products/0/nope", None)
            .await
            .starts_with("HTTP/1.1 404")
    );
}
