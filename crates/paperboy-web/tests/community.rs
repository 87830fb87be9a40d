//! Accounts, sessions, CSRF, upvotes, comments and submissions, through the real app on a
//! random port, as a browser would use them (cookies, forms, redirects).

mod common;

use common::{Options, TestApp};
use paperboy_core::ArxivId;

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

#[tokio::test]
async fn signing_up_signs_in_and_signing_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let r = app.sign_up("ada").await;
    assert_eq!(r.status().as_u16(), 303);
    let session = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("pb_session="))
        .expect("session cookie");
    let token = session["pb_session=".len()..]
        .split(';')
        .next()
        .expect("value")
        .to_owned();
    assert!(app.html("/").await.contains("Sign out"), "signed in");

    let r = app.post("/signout", &[]).await;
    assert_eq!(r.status().as_u16(), 303);
    assert!(!app.html("/").await.contains("Sign out"), "signed out");
    // The old session token is dead on the server too, not just forgotten by the browser.
    let replay = TestApp::browser()
        .get(format!("{}/settings", app.base))
        .header("cookie", format!("pb_session={token}"))
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status().as_u16(), 303, "redirected to sign in");
}

#[tokio::test]
async fn signing_in_rotates_the_session_and_wrong_credentials_get_one_answer() {
    let app = TestApp::spawn().await;
    app.sign_up("grace").await;
    let first = app.get("/").await;
    drop(first);
    let r = app
        .post(
            "/signin",
            &[("username", "grace"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let fresh = set_cookies(&r);
    assert!(
        fresh.iter().any(|c| c.starts_with("pb_session=")),
        "a new session at sign-in"
    );

    let other = TestApp::browser();
    let attempt = |user: &'static str, pass: &'static str| {
        let other = other.clone();
        let base = app.base.clone();
        async move {
            let page = other
                .get(format!("{base}/signin"))
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("html");
            let at = page.find("name=\"csrf_token\" value=\"").expect("token");
            let rest = &page[at + 25..];
            let token = rest[..rest.find('"').expect("end")].to_owned();
            let r = other
                .post(format!("{base}/signin"))
                .form(&[
                    ("username", user),
                    ("password", pass),
                    ("csrf_token", &token),
                ])
                .send()
                .await
                .expect("post");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    let (s1, b1) = attempt("grace", "wrong password").await;
    let (s2, b2) = attempt("nobody", "wrong password").await;
    assert_eq!((s1, s2), (401, 401));
    assert!(
        b1.contains("Wrong username or password.") && b2.contains("Wrong username or password.")
    );
}

#[tokio::test]
async fn a_state_change_without_the_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    app.get("/").await; // receives the CSRF cookie
    for form in [
        vec![("username", "x"), ("password", "y")],
        vec![("username", "x"), ("csrf_token", "forged")],
    ] {
        let r = app
            .http
            .post(format!("{}/signin", app.base))
            .form(&form)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 403);
    }
    // A cross-site request carries no cookie at all.
    let r = TestApp::browser()
        .post(format!("{}/signup", app.base))
        .form(&[("username", "x"), ("csrf_token", "x")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn cookies_are_host_prefixed_secure_httponly_and_lax() {
    let app = TestApp::spawn_with(Options {
        secure_cookies: true,
        ..Options::default()
    })
    .await;
    let r = app.get("/").await;
    let csrf = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("__Host-pb_csrf="))
        .expect("csrf cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(csrf.contains(attr), "{csrf}");
    }
}

#[tokio::test]
async fn bad_sign_up_input_is_explained() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/signup",
            &[
                ("username", "ok-name"),
                ("fullname", ""),
                ("email", "ada@example.org"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("at least 8 characters")
    );
    let r = app
        .post(
            "/signup",
            &[
                ("username", "x<script>"),
                ("fullname", ""),
                ("email", "a@b.org"),
                ("password", "long enough"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("a username is 2 to 42 characters")
    );
    app.sign_up("taken").await;
    let again = TestApp::spawn().await;
    drop(again);
    let r = app
        .post(
            "/signup",
            &[
                ("username", "taken"),
                ("fullname", ""),
                ("email", "new@example.org"),
                ("password", "long enough"),
            ],
        )
        .await;
    let body = r.text().await.expect("body");
    assert!(
        body.contains("cannot be made with this username and email"),
        "{body}"
    );
}

#[tokio::test]
async fn upvoting_twice_removes_the_vote() {
    let app = TestApp::spawn().await;
    app.seed_titled("2510.00001", "Votable").await;
    app.sign_up("voter").await;
    let id = ArxivId::parse("2510.00001").expect("id");
    app.post("/papers/2510.00001/upvote", &[]).await;
    assert_eq!(
        app.store
            .paper(&id)
            .await
            .expect("read")
            .expect("paper")
            .upvotes,
        1
    );
    assert!(
        app.html("/papers/2510.00001")
            .await
            .contains("aria-pressed=\"true\"")
    );
    app.post("/papers/2510.00001/upvote", &[]).await;
    assert_eq!(
        app.store
            .paper(&id)
            .await
            .expect("read")
            .expect("paper")
            .upvotes,
        0
    );
    // Signed out, voting sends the visitor to sign in and changes nothing.
    let stranger = TestApp::browser();
    let r = stranger
        .post(format!("{}/papers/2510.00001/upvote", app.base))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 403, "no CSRF cookie, no state change");
}

#[tokio::test]
async fn comments_render_markdown_safely_and_thread_one_level() {
    let app = TestApp::spawn().await;
    app.seed_titled("2510.00002", "Discussable").await;
    app.sign_up("talker").await;
    let r = app
        .post(
            "/papers/2510.00002/comments",
            &[(
                "body",
                "**Nice** <script>alert(1)</script> [x](javascript:alert(2))",
            )],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let html = app.html("/papers/2510.00002").await;
    assert!(html.contains("<strong>Nice</strong>"));
    assert!(!html.contains("<script>alert(1)"));
    // The source shows, inert, in the author's edit box; never as a link.
    assert!(!html.contains("href=\"javascript:"));
    let comments = app
        .store
        .comments(&ArxivId::parse("2510.00002").expect("id"))
        .await
        .expect("comments");
    let parent = comments[0].id.to_string();
    app.post(
        "/papers/2510.00002/comments",
        &[("body", "A reply"), ("parent_id", &parent)],
    )
    .await;
    let r = app
        .post("/papers/2510.00002/comments", &[("body", "   ")])
        .await;
    assert_eq!(r.status().as_u16(), 400, "empty comments are refused");
    let r = app
        .post(
            "/papers/2510.00002/comments",
            &[("body", "x"), ("parent_id", "abc")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    let long = "x".repeat(10_001);
    let r = app
        .post("/papers/2510.00002/comments", &[("body", &long)])
        .await;
    assert_eq!(r.status().as_u16(), 400, "over-long comments are refused");
    let paper = app
        .store
        .paper(&ArxivId::parse("2510.00002").expect("id"))
        .await
        .expect("read")
        .expect("paper");
    assert_eq!(paper.num_comments, 2);
    let html = app.html("/papers/2510.00002").await;
    assert!(html.contains("class=\"comment reply\""));
}

#[tokio::test]
async fn submitting_an_arxiv_id_fetches_it_puts_it_on_today_and_a_duplicate_lands_on_it() {
    let app = TestApp::spawn().await;
    app.sign_up("submitter").await;
    let r = app
        .post(
            "/submit",
            &[("arxiv_id", "https://arxiv.org/abs/2510.02345v1")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/papers/2510.02345");
    let id = ArxivId::parse("2510.02345").expect("id");
    let paper = app.store.paper(&id).await.expect("read").expect("stored");
    assert_eq!(
        paper.title,
        "Counting Tokens, Not Words: A Benchmark for Tokenizer Robustness"
    );
    let feed = paper.feed.expect("on the feed");
    assert_eq!(feed.feed_date, chrono::Utc::now().date_naive());
    assert_eq!(feed.submitter.expect("submitter").username, "submitter");

    let r = app.post("/submit", &[("arxiv_id", "2510.02345")]).await;
    assert_eq!(
        r.headers()["location"],
        "/papers/2510.02345",
        "the duplicate lands on the paper"
    );
    assert_eq!(app.store.stats().await.expect("stats").feed_entries, 1);

    let r = app
        .post("/submit", &[("arxiv_id", "../../etc/passwd")])
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.expect("body").contains("is not an arXiv id"));
}

#[tokio::test]
async fn repeated_sign_in_attempts_are_rate_limited_with_retry_after() {
    let app = TestApp::spawn().await;
    let mut last = None;
    for _ in 0..11 {
        last = Some(
            app.post(
                "/signin",
                &[("username", "nobody"), ("password", "whatever1")],
            )
            .await,
        );
    }
    let r = last.expect("response");
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait));
}

#[tokio::test]
async fn pages_for_signed_in_users_send_visitors_to_sign_in() {
    let app = TestApp::spawn().await;
    for path in ["/settings", "/submit"] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/signin");
    }
}

#[tokio::test]
async fn settings_create_a_token_shown_once_and_revoke_it() {
    let app = TestApp::spawn().await;
    app.sign_up("scripter").await;
    let r = app.post("/settings/tokens", &[("name", "laptop")]).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.expect("body");
    let at = html.find("<code>pb_").expect("the secret is shown") + "<code>".len();
    let secret = html[at..at + html[at..].find('<').expect("end")].to_owned();
    let user = app
        .store
        .authenticate_api_token(&secret)
        .await
        .expect("auth")
        .expect("valid");
    assert_eq!(user.username, "scripter");
    let listed = app.html("/settings").await;
    assert!(
        listed.contains("laptop") && !listed.contains(&secret),
        "listed, secret not shown again"
    );
    let tokens = app.store.api_tokens(user.id).await.expect("tokens");
    let revoke = format!("/settings/tokens/{}/revoke", tokens[0].id);
    assert_eq!(app.post(&revoke, &[]).await.status().as_u16(), 303);
    assert!(
        app.store
            .authenticate_api_token(&secret)
            .await
            .expect("auth")
            .is_none(),
        "revoked"
    );
    assert_eq!(
        app.post(&revoke, &[]).await.status().as_u16(),
        404,
        "only once"
    );
    let r = app.post("/settings/tokens", &[("name", "  ")]).await;
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_sign_in_budget() {
    let app = TestApp::spawn_with(Options {
        trusted_proxies: vec!["127.0.0.1".parse().expect("ip")],
        ..Options::default()
    })
    .await;
    let token = app.me().csrf().await;
    let attempt = |client: &'static str| {
        let http = app.http.clone();
        let url = format!("{}/signin", app.base);
        let token = token.clone();
        async move {
            http.post(url)
                .header("x-forwarded-for", format!("198.51.100.9, {client}"))
                .form(&[
                    ("username", "nobody"),
                    ("password", "wrong password"),
                    ("csrf_token", token.as_str()),
                ])
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(attempt("203.0.113.1").await);
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429, "the first client hit its limit");
    assert_eq!(
        attempt("203.0.113.2").await,
        401,
        "another client behind the same proxy still may try"
    );
}

#[tokio::test]
async fn without_a_trusted_proxy_a_forged_forwarded_header_does_not_escape_the_limit() {
    let app = TestApp::spawn().await;
    let token = app.me().csrf().await;
    let mut last = 0;
    for i in 0..11 {
        last = app
            .http
            .post(format!("{}/signin", app.base))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .form(&[
                ("username", "nobody"),
                ("password", "wrong password"),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await
            .expect("post")
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
}

#[tokio::test]
async fn after_a_form_the_site_returns_only_to_its_own_pages() {
    let app = TestApp::spawn().await;
    app.seed_titled("2510.00001", "Votable").await;
    app.sign_up("voter").await;
    for (next, expected) in [
        ("/papers/2510.00001?x=1", "/papers/2510.00001?x=1"),
        ("//evil.example/", "/papers/2510.00001"),
        ("/\t/evil.example/", "/papers/2510.00001"),
        ("/\\evil.example/", "/papers/2510.00001"),
        ("https://evil.example/", "/papers/2510.00001"),
    ] {
        let r = app
            .post("/papers/2510.00001/upvote", &[("next", next)])
            .await;
        assert_eq!(r.status().as_u16(), 303, "{next:?}");
        assert_eq!(r.headers()["location"], expected, "{next:?}");
    }
}

/// The `role="status"` or `role="alert"` paragraph of a page.
fn notice(html: &str) -> String {
    let at = html
        .find("role=\"status\">")
        .or_else(|| html.find("role=\"alert\">"))
        .expect("a notice");
    html[at..at + html[at..].find("</p>").expect("end")].to_owned()
}

#[tokio::test]
async fn joining_an_organization_takes_an_administrators_approval_or_an_invitation() {
    let app = TestApp::spawn().await;
    let ada = app.me();
    ada.sign_up("ada").await;
    assert_eq!(
        ada.post("/orgs/new", &[("name", "lab"), ("fullname", "The Lab")])
            .await
            .status()
            .as_u16(),
        303
    );
    let bob = app.other();
    bob.sign_up("bob").await;
    let eve = app.other();
    eve.sign_up("eve").await;

    // Asking to join is only a request: no membership, no submitting for the lab.
    assert!(bob.html("/orgs/lab").await.contains("Ask to join"));
    assert_eq!(bob.post("/orgs/lab/join", &[]).await.status().as_u16(), 303);
    let page = bob.html("/orgs/lab").await;
    assert!(notice(&page).contains("You asked to join"), "{page}");
    assert!(!app.other().html("/orgs/lab").await.contains("@bob"));
    assert!(!bob.html("/submit").await.contains("<option value=\"lab\">"));
    let refused = bob
        .post(
            "/submit",
            &[("arxiv_id", "2510.01234"), ("organization", "lab")],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(app.store.stats().await.expect("stats").feed_entries, 0);

    // Only an administrator of the lab sees and decides requests.
    assert!(
        !eve.html("/orgs/lab")
            .await
            .contains("/orgs/lab/requests/bob")
    );
    for who in [&bob, &eve] {
        assert_eq!(
            who.post("/orgs/lab/requests/bob", &[("decision", "approve")])
                .await
                .status()
                .as_u16(),
            403
        );
    }
    let admin_view = ada.html("/orgs/lab").await;
    assert!(admin_view.contains("action=\"/orgs/lab/requests/bob\""));
    assert_eq!(
        ada.post("/orgs/lab/requests/bob", &[("decision", "approve")])
            .await
            .status()
            .as_u16(),
        303
    );
    assert!(app.other().html("/orgs/lab").await.contains("@bob"));
    let r = bob
        .post(
            "/submit",
            &[("arxiv_id", "2510.01234"), ("organization", "lab")],
        )
        .await;
    assert_eq!(
        r.status().as_u16(),
        303,
        "an approved member submits for it"
    );

    // A denied request leaves nothing.
    eve.post("/orgs/lab/join", &[]).await;
    assert_eq!(
        ada.post("/orgs/lab/requests/eve", &[("decision", "deny")])
            .await
            .status()
            .as_u16(),
        303
    );
    assert!(eve.html("/orgs/lab").await.contains("Ask to join"));

    // An invitation is the invitee's to accept or decline.
    let carol = app.other();
    carol.sign_up("carol").await;
    let r = ada
        .post("/orgs/lab/invite", &[("username", "@carol")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let unknown = ada
        .post("/orgs/lab/invite", &[("username", "nobody")])
        .await;
    assert_eq!(unknown.status().as_u16(), 400);
    assert!(
        unknown
            .text()
            .await
            .expect("body")
            .contains("There is no user named nobody")
    );
    assert_eq!(
        eve.post("/orgs/lab/invite", &[("username", "eve")])
            .await
            .status()
            .as_u16(),
        403,
        "a stranger invites nobody"
    );
    assert!(carol.html("/orgs").await.contains("invited you"));
    assert!(notice(&carol.html("/orgs/lab").await).contains("You are invited"));
    assert_eq!(
        eve.post("/orgs/lab/invitation", &[("decision", "accept")])
            .await
            .status()
            .as_u16(),
        404,
        "nobody else accepts it"
    );
    assert_eq!(
        carol
            .post("/orgs/lab/invitation", &[("decision", "accept")])
            .await
            .status()
            .as_u16(),
        303
    );
    assert!(app.other().html("/orgs/lab").await.contains("@carol"));
}

#[tokio::test]
async fn the_last_administrator_hands_over_and_a_removed_members_papers_can_be_detached() {
    let app = TestApp::spawn().await;
    let ada = app.me();
    ada.sign_up("ada").await;
    ada.post("/orgs/new", &[("name", "lab"), ("fullname", "The Lab")])
        .await;
    let bob = app.other();
    bob.sign_up("bob").await;
    ada.post("/orgs/lab/invite", &[("username", "bob")]).await;
    bob.post("/orgs/lab/invitation", &[("decision", "accept")])
        .await;
    assert_eq!(
        bob.post(
            "/submit",
            &[("arxiv_id", "2510.01234"), ("organization", "lab")],
        )
        .await
        .status()
        .as_u16(),
        303
    );

    // The only administrator cannot leave nor step down; the page says what to do.
    let r = ada.post("/orgs/lab/leave", &[]).await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.expect("body").contains("administrator"));
    let r = ada
        .post("/orgs/lab/members/ada/role", &[("role", "member")])
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(notice(&r.text().await.expect("body")).contains("last administrator"));
    assert_eq!(
        bob.post("/orgs/lab/members/bob/role", &[("role", "admin")])
            .await
            .status()
            .as_u16(),
        403,
        "a member does not promote themselves"
    );
    // Handing over, then leaving.
    assert_eq!(
        ada.post("/orgs/lab/members/bob/role", &[("role", "admin")])
            .await
            .status()
            .as_u16(),
        303
    );
    assert_eq!(
        ada.post("/orgs/lab/leave", &[]).await.status().as_u16(),
        303
    );
    let page = app.other().html("/orgs/lab").await;
    assert!(page.contains("@bob") && !page.contains("@ada"));

    // Carol joins, submits for the lab, and is removed: her paper stays attributed until an
    // administrator detaches it; it stays on the daily list.
    let carol = app.other();
    carol.sign_up("carol").await;
    carol.post("/orgs/lab/join", &[]).await;
    bob.post("/orgs/lab/requests/carol", &[("decision", "approve")])
        .await;
    assert_eq!(
        carol
            .post(
                "/submit",
                &[("arxiv_id", "2510.02345"), ("organization", "lab")],
            )
            .await
            .status()
            .as_u16(),
        303
    );
    assert_eq!(
        carol
            .post("/orgs/lab/papers/2510.02345/detach", &[])
            .await
            .status()
            .as_u16(),
        403,
        "only an administrator detaches"
    );
    assert_eq!(
        bob.post("/orgs/lab/members/carol/remove", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    let page = app.other().html("/orgs/lab").await;
    assert!(!page.contains("@carol"));
    assert!(page.contains("/papers/2510.02345"), "still attributed");
    assert!(
        bob.html("/orgs/lab")
            .await
            .contains("/orgs/lab/papers/2510.02345/detach")
    );
    assert_eq!(
        bob.post("/orgs/lab/papers/2510.02345/detach", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    let page = app.other().html("/orgs/lab").await;
    assert!(!page.contains("/papers/2510.02345") && page.contains("/papers/2510.01234"));
    let paper = app
        .store
        .paper(&ArxivId::parse("2510.02345").expect("id"))
        .await
        .expect("read")
        .expect("paper");
    let entry = paper.feed.expect("still on the daily list");
    assert!(entry.organization.is_none());
    assert_eq!(entry.submitter.expect("submitter").username, "carol");
}

#[tokio::test]
async fn a_hidden_paper_is_gone_at_once_and_takes_no_vote_comment_or_submission() {
    let app = TestApp::spawn().await;
    let ada = app.me();
    ada.sign_up("ada").await;
    assert_eq!(
        ada.post("/submit", &[("arxiv_id", "2510.01234")])
            .await
            .status()
            .as_u16(),
        303
    );
    ada.post("/papers/2510.01234/upvote", &[]).await;
    ada.post("/papers/2510.01234/comments", &[("body", "a first take")])
        .await;
    let id = ArxivId::parse("2510.01234").expect("id");
    let comment_id = app.store.comments(&id).await.expect("comments")[0].id;
    let visitor = app.other();
    // Warm every cache that holds the paper.
    assert_eq!(
        visitor.get("/papers/2510.01234").await.status().as_u16(),
        200
    );
    assert_eq!(
        visitor
            .get("/api/papers/2510.01234")
            .await
            .status()
            .as_u16(),
        200
    );
    assert!(
        visitor
            .html("/api/daily_papers")
            .await
            .contains("2510.01234")
    );
    assert!(visitor.html("/").await.contains("/papers/2510.01234"));

    app.create_admin("root").await;
    let admin = app.other();
    assert_eq!(admin.sign_in("root", common::PASSWORD).await, 303);
    assert_eq!(
        admin
            .post("/admin/papers/2510.01234/hide", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    // At once, not after the caches' lifetime.
    assert_eq!(
        visitor.get("/papers/2510.01234").await.status().as_u16(),
        404
    );
    assert_eq!(
        visitor
            .get("/api/papers/2510.01234")
            .await
            .status()
            .as_u16(),
        404
    );
    assert!(
        !visitor
            .html("/api/daily_papers")
            .await
            .contains("2510.01234")
    );
    assert!(!visitor.html("/").await.contains("/papers/2510.01234"));

    // No vote, unvote, comment, edit or submission on it.
    assert_eq!(
        ada.post("/papers/2510.01234/upvote", &[])
            .await
            .status()
            .as_u16(),
        404,
        "un-voting"
    );
    assert!(
        app.store
            .has_voted(ada_id(&app).await, &id)
            .await
            .expect("read")
    );
    assert_eq!(
        ada.post("/papers/2510.01234/comments", &[("body", "more")])
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        ada.post(
            &format!("/comments/{comment_id}/edit"),
            &[("body", "changed")]
        )
        .await
        .status()
        .as_u16(),
        404
    );
    let r = ada.post("/submit", &[("arxiv_id", "2510.01234v2")]).await;
    assert_eq!(r.status().as_u16(), 404);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("was removed by this site")
    );
    assert_eq!(
        app.store.comments(&id).await.expect("comments")[0].body,
        "a first take"
    );

    // Shown again: as it was.
    admin.post("/admin/papers/2510.01234/show", &[]).await;
    let paper = app.store.paper(&id).await.expect("read").expect("shown");
    assert_eq!(paper.upvotes, 1);
    assert!(
        visitor
            .html("/api/daily_papers")
            .await
            .contains("2510.01234")
    );
}

async fn ada_id(app: &TestApp) -> i64 {
    app.store
        .user_by_name("ada")
        .await
        .expect("read")
        .expect("ada")
        .id
}
