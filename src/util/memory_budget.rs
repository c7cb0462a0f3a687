//! Refusing work that cannot fit in memory, up front and in one line, instead of letting an
//! allocation abort the process (`memory allocation of 9000000000000 bytes failed`).
use anyhow::bail;

/// Bytes of memory the system can still give this process (Linux `MemAvailable`); None where
/// that cannot be read, and then only sizes past any machine's memory are refused.
pub fn available_bytes() -> Option<u128> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// No machine this runs on has more memory than this (used when `available_bytes` is unknown).
const NO_MACHINE_HAS: u128 = 1 << 46; // 64 TiB

/// An error when `needed` bytes (None: too many to count) exceed the available memory.
/// `what` says what needs them and `advice` what to change, e.g. "use a smaller --image-size".
pub fn ensure_fits(what: &str, needed: Option<u128>, advice: &str) -> anyhow::Result<()> {
    let limit = available_bytes().unwrap_or(NO_MACHINE_HAS);
    match needed {
        Some(bytes) if bytes <= limit => Ok(()),
        Some(bytes) => bail!("{what} needs {} of memory but {} is available; {advice}", human_bytes(bytes), human_bytes(limit)),
        None => bail!("{what} needs more memory than can be counted; {advice}"),
    }
}

/// `1536` → `"1.5 KiB"`.
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The product of `factors`, None on overflow.
pub fn product(factors: &[u128]) -> Option<u128> {
    factors.iter().try_fold(1u128, |acc, &factor| acc.checked_mul(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_cannot_fit_and_names_it() {
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert!(ensure_fits("a byte", Some(1), "never mind").is_ok());
        let error = ensure_fits("9 TB of images", product(&[300, 100_000, 100_000, 3]), "use a smaller --image-size").unwrap_err().to_string();
        assert!(error.contains("9 TB of images needs 8.2 TiB") && error.contains("smaller --image-size"), "{error}");
        assert!(ensure_fits("x", product(&[u128::MAX, 2]), "y").unwrap_err().to_string().contains("more memory than can be counted"));
    }
}
