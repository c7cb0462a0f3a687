//! Every `--help` shows each option's default (or its possible values) and lists the models.
use std::process::Command;

fn help(subcommand: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_memefuse")).args([subcommand, "--help"]).output().unwrap();
    assert!(output.status.success(), "{subcommand} --help");
    String::from_utf8(output.stdout).unwrap()
}

/// Each option's block of the help text: its flag line and the description lines under it.
fn option_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        // clap indents option lines by 2 to 6 spaces, their descriptions and value lists by 10.
        let indent = line.len() - line.trim_start().len();
        if line.trim_start().starts_with('-') && indent <= 6 {
            let flag = line.split_whitespace().find(|w| w.starts_with("--")).unwrap_or("-").trim_end_matches(',').to_string();
            blocks.push((flag, line.to_string()));
        } else if let Some((_, block)) = blocks.last_mut() {
            *block += "\n";
            *block += line;
        }
    }
    blocks
}

#[test]
fn every_option_that_takes_a_value_shows_its_default() {
    // Options without a default: what to read or write, or a mode's required input.
    let no_default = ["--data", "--out", "--resume", "--run", "--weights", "--split", "--output", "--vocab", "--file"];
    for subcommand in ["synth", "prepare", "train", "eval", "predict", "demo"] {
        let text = help(subcommand);
        let blocks = option_blocks(&text);
        assert!(blocks.len() >= 4 && blocks.iter().any(|(flag, _)| flag == "--seed" || flag == "--split"), "{subcommand}: options not found in\n{text}");
        for (flag, block) in blocks {
            let takes_value = block.lines().next().unwrap().contains('<');
            if !takes_value || no_default.contains(&flag.as_str()) {
                continue;
            }
            let shown = block.contains("[default") || block.contains("[possible values") || block.contains("Possible values:");
            assert!(shown, "{subcommand} --help: {flag} shows no default:\n{block}");
        }
    }
}

#[test]
fn help_lists_the_models() {
    for subcommand in ["train", "demo"] {
        let text = help(subcommand);
        for model in memefuse::models::available() {
            assert!(text.contains(model), "{subcommand} --help does not list {model}");
        }
    }
    for subcommand in ["predict", "embed"] {
        let text = help(subcommand);
        for model in memefuse::io::foreign_weights::importable_models() {
            assert!(text.contains(model), "{subcommand} --help does not list {model}");
        }
    }
}
