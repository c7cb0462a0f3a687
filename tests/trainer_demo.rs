//! The demo, at a tiny size: data, runs, report and figures all appear.
use memefuse::train::demo::{run_demo_with, DemoOptions};
use memefuse::train::progress::ProgressMode;
use memefuse::Device;

#[test]
fn demo_writes_a_report_with_every_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo-report");
    let models: Vec<String> = memefuse::models::demo_models().into_iter().map(String::from).collect();
    let options = DemoOptions { out: out.clone(), epochs: 2, train_size: 90, models: models.clone(), seed: 0, device: Device::Cpu, progress: ProgressMode::Silent };
    let report = run_demo_with(&options).unwrap();
    let markdown = std::fs::read_to_string(&report).unwrap();
    for model in &models {
        assert!(markdown.contains(&format!("## {model}")), "report lacks a section for {model}");
        for figure in [format!("{model}_loss.png"), format!("{model}_accuracy.png"), format!("{model}_tsne.png")] {
            let path = out.join(&figure);
            assert!(image::open(&path).is_ok(), "{} is not a readable image", path.display());
            assert!(markdown.contains(&figure), "report does not link {figure}");
        }
        assert!(out.join("runs").join(model).join("history.jsonl").is_file());
    }
}
