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
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "never over plain HTTP"
    );
}

#[tokio::test]
async fn every_answer_over_https_carries_strict_transport_security() {
    let trusted = TestApp::spawn_with(&[("TRUST_FORWARDED_FOR", "true")]).await;
    for path in ["/", "/healthz", "/api/posts", "/api/nowhere", "/login"] {
        let response = trusted
            .client
            .get(trusted.url(path))
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=63072000; includeSubDomains",
            "{path}"
        );
    }
    // Without a trusted proxy, a client cannot claim HTTPS.
    let untrusted = TestApp::spawn().await;
    let response = untrusted
        .client
        .get(untrusted.url("/"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
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
    let post = app
        .publish(
            &ada.access,
            "Server-rendered title",
            "Readable without <script> tags",
        )
        .await;
    let id = post["id"].as_str().unwrap();

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
    for n in 0..20 {
        app.publish(&ada.access, &format!("Post {n}"), "Text").await;
    }
    let one_page = app.get("/").await.text().await.unwrap();
    assert!(one_page.contains("Post 19"));
    assert!(
        !one_page.contains("Load more"),
        "one page: nothing more to load"
    );

    app.publish(&ada.access, "Post 20", "Text").await;
    let two_pages = app.get("/").await.text().await.unwrap();
    assert!(two_pages.contains("Post 20"));
    assert!(two_pages.contains("Load more"), "a second page to load");
}

/// Only the parts of a page that change in the browser are islands: the
/// feed's posts are plain HTML outside any island, and "Load more" is an
/// island that carries the cursor of the next page as its props.
#[tokio::test]
async fn pages_hydrate_only_their_islands() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    for n in 0..21 {
        app.publish(&ada.access, &format!("Post {n}"), "Text").await;
    }
    let html = app.get("/").await.text().await.unwrap();
    let islands: Vec<&str> = html
        .split("<leptos-island data-component=\"")
        .skip(1)
        .map(|rest| rest.split('_').next().unwrap())
        .collect();
    assert_eq!(islands, ["SiteNav", "Notice", "Intro", "LoadMore"]);

    let post = html
        .find("Post 20")
        .expect("the newest post is on the page");
    let load_more = html.find("data-component=\"LoadMore_").unwrap();
    let last_island_before_post = html[..post].rfind("<leptos-island").unwrap();
    let closed_before_post = html[last_island_before_post..post].contains("</leptos-island>");
    assert!(closed_before_post, "the posts are outside every island");
    assert!(post < load_more);
    let props = &html[load_more..];
    assert!(
        props.contains("data-props=\"{&quot;next&quot;:&quot;"),
        "the cursor travels as props: {}",
        &props[..200.min(props.len())]
    );
}

/// The login form's `next` reaches the browser only as a same-site path.
#[tokio::test]
async fn login_page_passes_only_a_same_site_next_to_its_form() {
    let app = TestApp::spawn().await;
    for (asked, passed) in [
        ("%2Fgrades", "/grades"),
        ("%2Fgrades%3Fx%3D1%23top", "/grades?x=1#top"),
        ("%2F%2Fevil.example", "/"),
        ("https%3A%2F%2Fevil.example", "/"),
        ("%2F%5Cevil.example", "/"),
        // Browsers drop tabs and newlines from a URL before they read it.
        ("%2F%09%2Fevil.example", "/"),
        ("%2F%0A%2Fevil.example", "/"),
        ("%2F%0D%2Fevil.example", "/"),
        ("%09%2F%2Fevil.example", "/"),
        ("%2F%5C%09evil.example", "/"),
        ("javascript%3Aalert(1)", "/"),
        ("%2F..%2F..%2Fgrades", "/grades"),
        // Dot segments can leave a path that begins with "//".
        ("%2F.%2F%2Fevil.example", "/"),
        ("%2F..%2F%2Fevil.example", "/"),
        ("%2F%252e%2F%2Fevil.example", "/"),
    ] {
        let html = app
            .get(&format!("/login?next={asked}"))
            .await
            .text()
            .await
            .unwrap();
        let props = format!("data-props=\"{{&quot;next&quot;:&quot;{passed}&quot;}}\"");
        assert!(html.contains(&props), "next={asked}: expected {props}");
    }
}
