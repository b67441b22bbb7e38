//! The client against a real registry on the loopback interface (see `support`): tags that
//! moved, digests that do not exist, the platforms of an index and of a single image, a registry
//! that wants credentials, one that is down or hangs, one serving bytes that do not match their
//! digest, and one behind a proxy that answers 403 and 429.

mod support;

use std::time::Duration;

use imagegate_registry::{Credentials, Options, Registry};
use support::{free_port, Layout, TestProxy, TestRegistry};

fn client(credentials: Credentials) -> Registry {
    Registry::new(Options {
        credentials,
        attempts: 2,
        backoff: Duration::from_millis(50),
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_index_by_digest_lists_its_platforms_and_its_tag_points_at_it() {
    let registry = TestRegistry::start();
    let image = Layout::index(&["linux/amd64", "linux/arm64/v8"], "web");
    let digest = registry.push(&image, "acme/web", "v1");
    let reference = format!("{}:v1@{digest}", registry.repo("acme/web"));
    let facts = client(Credentials::default())
        .facts(&reference)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(facts.digest_found);
    assert!(facts.index);
    assert_eq!(facts.tag_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(facts.platforms, ["linux/amd64", "linux/arm64/v8"]);
    // `pin` resolves the tag to the index itself, not to one platform's manifest.
    let resolved = client(Credentials::default())
        .resolve(&format!("{}:v1", registry.repo("acme/web")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved, Some(digest));
}

#[test]
fn a_single_image_reports_the_platform_of_its_configuration() {
    let registry = TestRegistry::start();
    let image = Layout::single("linux/amd64", "api");
    let digest = registry.push(&image, "acme/api", "v1");
    let facts = client(Credentials::default())
        .facts(&format!("{}@{digest}", registry.repo("acme/api")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(facts.digest_found);
    assert!(!facts.index);
    assert_eq!(facts.platforms, ["linux/amd64"]);
    assert_eq!(facts.tag_digest, None, "no tag was asked about");
}

#[test]
fn a_retagged_image_shows_where_the_tag_points_now() {
    let registry = TestRegistry::start();
    let old = registry.push(&Layout::single("linux/amd64", "one"), "acme/jobs", "v1");
    let new = registry.push(&Layout::single("linux/amd64", "two"), "acme/jobs", "v1");
    assert_ne!(old, new);
    let facts = client(Credentials::default())
        .facts(&format!("{}:v1@{old}", registry.repo("acme/jobs")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(facts.digest_found, "the old image is still there by digest");
    assert_eq!(facts.tag_digest.as_deref(), Some(new.as_str()));
}

#[test]
fn a_digest_or_tag_the_registry_lacks_is_an_answer_not_an_error() {
    let registry = TestRegistry::start();
    let digest = registry.push(&Layout::single("linux/amd64", "x"), "acme/x", "v1");
    let client = client(Credentials::default());
    let missing = format!("sha256:{}", "0".repeat(64));
    let facts = client
        .facts(&format!("{}@{missing}", registry.repo("acme/x")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!facts.digest_found);
    // A repository that does not exist at all has no such digest either.
    let facts = client
        .facts(&format!("{}@{missing}", registry.repo("acme/nothing")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!facts.digest_found);
    // A tag that does not exist (any more) points nowhere.
    let facts = client
        .facts(&format!("{}:gone@{digest}", registry.repo("acme/x")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(facts.digest_found);
    assert_eq!(facts.tag_digest, None);
    // What `pin` asks: a tag, or a repository, that the registry lacks is no digest; a
    // reference without a tag is its `latest`, which was never pushed here.
    for lacking in ["acme/x:gone", "acme/nothing:v1", "acme/x"] {
        let answer = client
            .resolve(&registry.repo(lacking))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer, None, "{lacking}");
    }
    assert_eq!(
        client
            .resolve(&format!("{}:v1", registry.repo("acme/x")))
            .unwrap_or_else(|e| panic!("{e}")),
        Some(digest)
    );
}

#[test]
fn a_registry_that_wants_credentials_fails_without_them_and_answers_with_them() {
    let registry = TestRegistry::start_with_login("ci", "hunter2-token");
    let digest = registry.push(
        &Layout::single("linux/arm64", "secret"),
        "acme/private",
        "v1",
    );
    let reference = format!("{}:v1@{digest}", registry.repo("acme/private"));

    let err = client(Credentials::default())
        .facts(&reference)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.image, reference);
    assert!(err.message.contains("401"), "{err}");

    let mut creds = Credentials::default();
    creds.insert(&registry.host, "ci".into(), "wrong".into());
    let err = client(creds).facts(&reference).map(|_| ()).unwrap_err();
    assert!(err.message.contains("401"), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "a password is never shown: {err}"
    );

    let mut creds = Credentials::default();
    creds.insert(&registry.host, "ci".into(), "hunter2-token".into());
    let facts = client(creds)
        .facts(&reference)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(facts.digest_found);
    assert_eq!(facts.platforms, ["linux/arm64"]);

    // The same credentials from the credential helper the Docker configuration names for the
    // registry, as `docker login` with a helper leaves them; and `pin`'s question too.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let helper = dir.path().join("docker-credential-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread -r server\n[ \"$server\" = \"{}\" ] || exit 1\nprintf '{{\"Username\":\"ci\",\"Secret\":\"hunter2-token\"}}'\n",
            registry.host
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{"credHelpers": {{"{}": "test"}}}}"#, registry.host),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let creds = Credentials::from_docker_config(&config)
        .unwrap_or_else(|e| panic!("{e}"))
        .with_helper_search(vec![dir.path().to_path_buf()]);
    let client = client(creds);
    assert!(
        client
            .facts(&reference)
            .unwrap_or_else(|e| panic!("{e}"))
            .digest_found
    );
    let tagged = format!("{}:v1", registry.repo("acme/private"));
    assert_eq!(
        client.resolve(&tagged).unwrap_or_else(|e| panic!("{e}")),
        Some(digest)
    );
}

#[test]
fn a_registry_that_is_down_is_an_error_per_image_after_the_retries() {
    let host = format!("127.0.0.1:{}", free_port());
    let reference = format!("{host}/acme/web@sha256:{}", "a".repeat(64));
    let err = client(Credentials::default())
        .facts(&reference)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.image, reference);
    assert!(err.message.contains("cannot reach the registry"), "{err}");
    assert!(err.message.contains("after 2 attempts"), "{err}");
}

/// A registry that accepts the connection and never answers (a stopped process) is an error
/// per image once each attempt timed out: never a hang, never an answer.
#[test]
fn a_registry_that_hangs_is_an_error_per_image_at_the_request_timeout() {
    let registry = TestRegistry::start();
    let digest = registry.push(&Layout::single("linux/amd64", "x"), "acme/x", "v1");
    registry.pause();
    let client = Registry::new(Options {
        attempts: 2,
        backoff: Duration::from_millis(50),
        request_timeout: Duration::from_millis(500),
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let pinned = format!("{}@{digest}", registry.repo("acme/x"));
    let err = client.facts(&pinned).map(|_| ()).unwrap_err();
    let tagged = format!("{}:v1", registry.repo("acme/x"));
    let err_pin = client.resolve(&tagged).map(|_| ()).unwrap_err();
    registry.resume();
    for (e, image) in [(err, pinned), (err_pin, tagged)] {
        assert_eq!(e.image, image);
        assert!(e.message.contains("no answer within"), "{e}");
    }
}

/// A registry whose stored manifest no longer hashes to its digest (a corrupted store, or a
/// proxy that rewrites what it serves): the bytes are checked against the digest asked for and
/// against the one the registry names, so both `check --registry` and `pin` get an error for
/// the image, never an answer built on the wrong bytes.
#[test]
fn a_registry_serving_bytes_that_do_not_match_the_digest_is_an_error_per_image() {
    let registry = TestRegistry::start();
    let good = registry.push(&Layout::single("linux/amd64", "good"), "acme/good", "v1");
    let bad = registry.push(&Layout::single("linux/amd64", "bad"), "acme/bad", "v1");
    registry.corrupt_blob(&bad);
    let client = client(Credentials::default());

    let pinned = format!("{}:v1@{bad}", registry.repo("acme/bad"));
    let err = client.facts(&pinned).map(|_| ()).unwrap_err();
    assert_eq!(err.image, pinned);
    assert!(err.message.contains("does not match"), "{err}");

    let tagged = format!("{}:v1", registry.repo("acme/bad"));
    let err = client.resolve(&tagged).map(|_| ()).unwrap_err();
    assert_eq!(err.image, tagged);
    assert!(err.message.contains("does not match"), "{err}");

    // The other image of the same registry is answered as always.
    let facts = client
        .facts(&format!("{}@{good}", registry.repo("acme/good")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(facts.digest_found);
    assert_eq!(
        client
            .resolve(&format!("{}:v1", registry.repo("acme/good")))
            .unwrap_or_else(|e| panic!("{e}")),
        Some(good)
    );
}

/// The registry behind nginx, as it is often deployed: the proxy's access rules answer 403
/// for one repository and its rate limiter 429 past one request a minute for another. Both
/// are an error for that image alone (403 at once, 429 after the retries), for `check
/// --registry` and for `pin`; what the proxy lets through is answered.
#[test]
fn a_registry_behind_a_proxy_that_denies_or_rate_limits_is_an_error_per_image() {
    let registry = TestRegistry::start();
    let denied = registry.push(&Layout::single("linux/amd64", "d"), "acme/denied", "v1");
    let open = registry.push(&Layout::single("linux/amd64", "o"), "acme/open", "v1");
    let limited = registry.push(&Layout::single("linux/amd64", "l"), "acme/limited", "v1");
    let proxy = TestProxy::start(&registry);
    let host = &proxy.host;
    let client = client(Credentials::default());

    let pinned = format!("{host}/acme/denied@{denied}");
    let err = client.facts(&pinned).map(|_| ()).unwrap_err();
    assert_eq!(err.image, pinned);
    assert!(err.message.contains("403"), "{err}");
    assert!(
        !err.message.contains("attempts"),
        "403 is not retried: {err}"
    );
    let err = client
        .resolve(&format!("{host}/acme/denied:v1"))
        .map(|_| ())
        .unwrap_err();
    assert!(err.message.contains("403"), "{err}");

    let through = format!("{host}/acme/open:v1");
    assert_eq!(
        client.resolve(&through).unwrap_or_else(|e| panic!("{e}")),
        Some(open.clone())
    );
    assert!(
        client
            .facts(&format!("{host}/acme/open@{open}"))
            .unwrap_or_else(|e| panic!("{e}"))
            .digest_found
    );

    // The first request is within the rate; a new run asking again a moment later is not.
    let tagged = format!("{host}/acme/limited:v1");
    assert_eq!(
        client.resolve(&tagged).unwrap_or_else(|e| panic!("{e}")),
        Some(limited)
    );
    let err = self::client(Credentials::default())
        .resolve(&tagged)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.image, tagged);
    assert!(
        err.message.contains("429") && err.message.contains("after 2 attempts"),
        "{err}"
    );
}

#[test]
fn each_reference_is_asked_once_per_run() {
    let registry = TestRegistry::start();
    let digest = registry.push(&Layout::single("linux/amd64", "c"), "acme/c", "v1");
    let reference = format!("{}:v1@{digest}", registry.repo("acme/c"));
    let client = client(Credentials::default());
    let first = client.facts(&reference).unwrap_or_else(|e| panic!("{e}"));
    // The registry is gone; the run's answer stands.
    drop(registry);
    let again = client.facts(&reference).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, again);
}

/// A client whose answers are kept in the run's file, as each imagegate process of one run
/// opens it.
fn run_client(file: &std::path::Path) -> Registry {
    Registry::new(Options {
        answers: Some(file.to_owned()),
        attempts: 2,
        backoff: Duration::from_millis(50),
        ..Options::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The processes of one run share where each tag pointed when the run first asked: after the
/// tag moves, a later process of the same run (another `pin`, the `check --registry` after it)
/// still gets the first answer, for `pin`'s hashed GET and for the check's HEAD alike, while a
/// process of another run, or without a file, asks the registry and sees the move.
#[test]
fn a_run_keeps_its_first_tag_answers_on_disk_for_its_later_processes() {
    let registry = TestRegistry::start();
    let first = registry.push(&Layout::single("linux/amd64", "one"), "acme/app", "v1");
    let tagged = format!("{}:v1", registry.repo("acme/app"));
    let pinned = format!("{tagged}@{first}");
    let absent = format!("{}:v9", registry.repo("acme/app"));
    let runs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = runs.path().join("registry").join("answers-run-1.json");

    let one = run_client(&file);
    assert_eq!(
        one.resolve(&tagged).unwrap_or_else(|e| panic!("{e}")),
        Some(first.clone())
    );
    assert_eq!(one.resolve(&absent).unwrap_or_else(|e| panic!("{e}")), None);
    let facts = one.facts(&pinned).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(facts.tag_digest.as_deref(), Some(first.as_str()));
    one.save().unwrap_or_else(|e| panic!("{e}"));
    assert!(file.is_file());

    let moved = registry.push(&Layout::single("linux/amd64", "two"), "acme/app", "v1");
    registry.push(&Layout::single("linux/amd64", "nine"), "acme/app", "v9");
    assert_ne!(moved, first);

    let same_run = run_client(&file);
    assert_eq!(
        same_run.resolve(&tagged).unwrap_or_else(|e| panic!("{e}")),
        Some(first.clone())
    );
    assert_eq!(
        same_run.resolve(&absent).unwrap_or_else(|e| panic!("{e}")),
        None
    );
    let facts = same_run.facts(&pinned).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(facts.tag_digest.as_deref(), Some(first.as_str()));
    // What the file holds is only the tags: the digest itself is still asked about.
    assert!(facts.digest_found);

    let other_run = run_client(&runs.path().join("registry").join("answers-run-2.json"));
    assert_eq!(
        other_run.resolve(&tagged).unwrap_or_else(|e| panic!("{e}")),
        Some(moved.clone())
    );
    let facts = client(Credentials::default())
        .facts(&pinned)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(facts.tag_digest.as_deref(), Some(moved.as_str()));
}

#[test]
fn a_damaged_answers_file_is_an_error_naming_it() {
    let runs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = runs.path().join("answers-x.json");
    std::fs::write(&file, "not json").unwrap_or_else(|e| panic!("{e}"));
    let err = Registry::new(Options {
        answers: Some(file),
        ..Options::default()
    })
    .err()
    .unwrap_or_else(|| panic!("a damaged file was read"));
    assert!(
        err.contains("answers-x.json") && err.contains("delete it"),
        "{err}"
    );
}
