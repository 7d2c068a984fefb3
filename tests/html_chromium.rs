//! report.html renders in a real browser: headless Chromium (Debian's `chromium`,
//! installed by .ci/run) loads it from disk with the network off, its DOM carries the
//! verdict and the matrix, and a screenshot is taken.

use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)");
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let out =
        Command::new(env!("CARGO_BIN_EXE_iam-conformance")).args(["check", "--report-dir"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let page = dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "the page is self-contained");
    let url = format!("file://{}", page.display());

    let dom = chromium(&["--dump-dom", &url], &tmp.path().join("p1"));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("IAM conformance: conformant (exit 0)"), "{}", &dom[..dom.len().min(500)]);
    assert!(dom.contains("iam:PassRole"), "the matrix lists the actions");
    assert!(dom.contains("deny.passrole.bootstrapper-role"), "the matrix lists the scenarios");

    let shot = tmp.path().join("shot.png");
    let out = chromium(
        &["--window-size=1280,1600", &format!("--screenshot={}", shot.display()), &url],
        &tmp.path().join("p2"),
    );
    let png = std::fs::read(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 20_000, "a page with content, not a blank one ({} bytes)", png.len());
}
