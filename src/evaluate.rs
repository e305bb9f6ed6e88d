pub fn run_cli(
    _t: &[std::path::PathBuf],
    _s: &[std::path::PathBuf],
    _k: usize,
    _j: bool,
) -> anyhow::Result<u8> {
    anyhow::bail!("not yet")
}
