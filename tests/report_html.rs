//! `memefuse report`: the HTML page and its markdown twin for real (tiny) runs, and the page opened
//! in headless Chromium: every image must decode and every table render.
//!
//! The browser check needs Debian's `chromium` (.ci/run installs it when missing); without it the
//! test says so and skips that part, unless MEMEFUSE_REQUIRE_CHROMIUM=1 (set by .ci/run) makes a
//! missing browser a failure.
mod trainer_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use memefuse::study::commands::{run_report, ReportArgs};
use memefuse::train::commands::run_train;
use memefuse::train::run_dir::CheckpointKind;
use trainer_common::{tiny_dataset, train_args};

/// (run folder name, model, fusion)
const RUNS: [(&str, &str, Option<&str>); 2] = [("text-lstm", "lstm", None), ("cnn-lstm-late", "cnn-lstm", Some("late"))];

fn trained_runs(dir: &Path) -> Vec<PathBuf> {
    let data = tiny_dataset(dir);
    RUNS.iter()
        .map(|(name, model, fusion)| {
            let out = dir.join(name);
            let mut args = train_args(model, &data, &out, 2);
            args.fusion = fusion.map(|f| f.parse().unwrap());
            run_train(args).unwrap();
            out
        })
        .collect()
}

#[test]
fn report_writes_a_self_contained_page_and_its_markdown_twin() {
    let dir = tempfile::tempdir().unwrap();
    let runs = trained_runs(dir.path());
    let out = dir.path().join("report");
    run_report(ReportArgs { runs: runs.clone(), out: out.clone(), split: "test".into(), tsne_split: "dev".into(), checkpoint: CheckpointKind::Best, device: "cpu".into() }).unwrap();

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!html.contains("src=\"http") && !html.contains("src=\"file") && !html.contains(".png\""), "every image is inlined");
    assert_eq!(html.matches("<img ").count(), 3 * RUNS.len() + 1, "curves ×2 and t-SNE per model, plus the AUROC comparison");
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 3 * RUNS.len() + 1);
    for (name, model, _) in RUNS {
        for text in [format!("## {name}"), format!("| model | {model} |"), format!("![{name}: model loss](<{name}_loss.png>)"), format!("(<{name}_tsne.png>)")] {
            assert!(markdown.contains(&text), "report.md lacks {text:?}");
        }
        for figure in ["loss", "accuracy", "tsne"] {
            let path = out.join(format!("{name}_{figure}.png"));
            assert!(image::open(&path).is_ok(), "{} is not a readable image", path.display());
        }
        assert!(html.contains(&format!("<h2>{name}</h2>")));
    }
    assert!(markdown.contains("| fusion | late |"), "the fusion model's configuration names its fusion");
    assert!(markdown.contains("| model | accuracy | macro F1 | AUROC | train time (s) | samples/s | parameters |"));
    assert!(markdown.contains("![Validation AUROC per epoch](<validation_auroc.png>)"));
    // The comparison row of each model carries its parameter count.
    for (name, _, _) in RUNS {
        let row = markdown.lines().find(|line| line.starts_with(&format!("| {name} | 0."))).unwrap_or_else(|| panic!("no comparison row for {name}"));
        let parameters: usize = row.trim_end_matches(" |").rsplit(" | ").next().unwrap().parse().unwrap();
        assert!(parameters > 1000, "{row}");
    }

    check_in_chromium(&out.join("report.html"), dir.path());
}

/// Appended to a copy of the page: after load, counts images that did not decode and tables with
/// no rendered rows, and writes the verdict into the DOM that Chromium dumps.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const images = [...document.images];
  const badImages = images.filter(img => !(img.complete && img.naturalWidth > 0 && img.naturalHeight > 0)).map(img => img.alt);
  const tables = [...document.querySelectorAll('table')];
  const badTables = tables.filter(t => !(t.rows.length > 1 && t.rows[1].cells.length > 1 && t.getBoundingClientRect().height > 0 && t.rows[1].getBoundingClientRect().height > 0)).length;
  const verdict = document.createElement('pre');
  verdict.id = 'probe-verdict';
  verdict.textContent = 'PROBE ' + JSON.stringify({ images: images.length, badImages, tables: tables.length, badTables }) + ' END';
  document.body.appendChild(verdict);
});
</script>"#;

fn check_in_chromium(page: &Path, scratch: &Path) {
    let required = std::env::var("MEMEFUSE_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1");
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|name| Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())) else {
        assert!(!required, "MEMEFUSE_REQUIRE_CHROMIUM=1 but no chromium is installed (apt-get install chromium)");
        eprintln!("report_html: skipped the browser check: chromium is not installed (apt-get install chromium)");
        return;
    };
    let html = std::fs::read_to_string(page).unwrap();
    let probed = scratch.join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}\n</body>"))).unwrap();
    let profile = scratch.join("chromium-profile");
    let output = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=10000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("running chromium");
    let dom = String::from_utf8_lossy(&output.stdout);
    let verdict = dom
        .split("<pre id=\"probe-verdict\">PROBE ")
        .nth(1)
        .and_then(|rest| rest.split(" END</pre>").next())
        .unwrap_or_else(|| panic!("chromium did not run the probe (status {}): {}", output.status, String::from_utf8_lossy(&output.stderr)));
    let verdict: serde_json::Value = serde_json::from_str(&verdict.replace("&quot;", "\"")).unwrap();
    assert_eq!(verdict["images"], 3 * RUNS.len() as u64 + 1, "{verdict}");
    assert_eq!(verdict["badImages"], serde_json::json!([]), "images that did not decode: {verdict}");
    assert_eq!(verdict["tables"], 3 * RUNS.len() as u64 + 1, "configuration, classification report, confusion matrix per model, plus the comparison: {verdict}");
    assert_eq!(verdict["badTables"], 0, "tables that did not render: {verdict}");
}
