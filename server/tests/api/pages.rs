use crate::helpers::TestApp;

#[tokio::test]
async fn home_page_is_rendered_on_the_server_with_the_site_layout() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "HTML page"
    );
    let html = response.text().await.unwrap();
    for part in [
        "<header",
        "<nav",
        "<main",
        "<footer",
        "Classroom Board",
        "Show how sign-in works",
    ] {
        assert!(html.contains(part), "home page lacks {part:?}");
    }
    // The hydration entry points at the generated bundle.
    assert!(
        html.contains("/pkg/classboard.js"),
        "hydration script missing"
    );
    assert!(html.contains("/pkg/classboard.css"), "stylesheet missing");
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        response.headers()["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
}

#[tokio::test]
async fn unknown_page_is_a_404_page_in_the_layout() {
    let app = TestApp::spawn().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains("<header"));
}

#[tokio::test]
async fn pages_carry_a_csp_that_admits_only_the_nonced_hydration_script() {
    let app = TestApp::spawn().await;
    for path in ["/", "/no/such/page"] {
        let response = app.get(path).await;
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("object-src 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .expect("a nonce");
        let html = response.text().await.unwrap();
        // Every inline script carries the nonce.
        for script in html.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap();
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")) || tag.contains("src="),
                "{tag}"
            );
        }
    }
    let first = app.get("/").await.headers()["content-security-policy"].clone();
    let second = app.get("/").await.headers()["content-security-policy"].clone();
    assert_ne!(first, second, "a fresh nonce for every page");
}

#[tokio::test]
async fn api_responses_carry_nosniff_too() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/posts").await;
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn feed_and_post_pages_contain_their_posts_in_the_html() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let response = app
        .bearer(reqwest::Method::POST, "/api/posts", &ada.access)
        .json(&serde_json::json!({"title": "Server-rendered title", "body": "Readable without <script> tags"}))
        .send()
        .await
        .unwrap();
    let post: serde_json::Value = response.json().await.unwrap();
    let id = post["post"]["id"].as_str().unwrap();

    let feed = app.get("/").await.text().await.unwrap();
    assert!(
        feed.contains("Server-rendered title"),
        "feed HTML lacks the post: {}",
        feed.split("Latest posts").nth(1).unwrap_or(&feed)
    );
    assert!(feed.contains(&format!("href=\"/posts/{id}\"")));
    assert!(
        !feed.contains("Loading posts"),
        "no fallback left for scripts to replace"
    );

    let page = app.get(&format!("/posts/{id}")).await.text().await.unwrap();
    assert!(
        page.contains("Readable without &lt;script&gt; tags"),
        "escaped body in the post page"
    );
    let missing = app.get("/posts/999999").await;
    assert!(missing.text().await.unwrap().contains("Post not found"));
}

/// Finding a server's routes switches Leptos's resource loading off for the
/// whole process for a moment; a page whose feed started loading in that
/// moment used to wait forever. So pages must render while other servers of
/// the same process start (which is what finding routes stands for here).
#[tokio::test]
async fn pages_render_while_another_server_starts_in_the_same_process() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    let app = TestApp::spawn().await;
    let done = Arc::new(AtomicBool::new(false));
    let starts = std::thread::spawn({
        let done = done.clone();
        move || {
            let mut starts = 0_u32;
            while !done.load(Ordering::Relaxed) {
                server::startup::route_list();
                starts += 1;
            }
            starts
        }
    });
    let mut rendered = 0;
    for _ in 0..50 {
        let page = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            app.get("/").await.text().await.unwrap()
        })
        .await;
        match page {
            Ok(html) if html.contains("Latest posts") => rendered += 1,
            Ok(html) => panic!("the feed page is incomplete: {html}"),
            Err(_) => break,
        }
    }
    done.store(true, Ordering::Relaxed);
    let starts = starts.join().unwrap();
    assert_eq!(
        rendered, 50,
        "a page stalled while servers started ({starts} starts)"
    );
    assert!(starts > 0);
}

/// The server's HTML offers "Load more" exactly when the feed has another
/// page, so it reads the same before and after hydration.
#[tokio::test]
async fn feed_page_offers_load_more_only_when_there_is_more() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let publish = |n: usize| {
        app.bearer(reqwest::Method::POST, "/api/posts", &ada.access)
            .json(&serde_json::json!({"title": format!("Post {n}"), "body": "Text"}))
            .send()
    };
    for n in 0..20 {
        assert_eq!(publish(n).await.unwrap().status(), 201);
    }
    let one_page = app.get("/").await.text().await.unwrap();
    assert!(one_page.contains("Post 19"));
    assert!(
        !one_page.contains("Load more"),
        "one page: nothing more to load"
    );

    assert_eq!(publish(20).await.unwrap().status(), 201);
    let two_pages = app.get("/").await.text().await.unwrap();
    assert!(two_pages.contains("Post 20"));
    assert!(two_pages.contains("Load more"), "a second page to load");
}
