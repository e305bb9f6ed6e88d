//! Prints each sled tree's entry count and key + value bytes beside the
//! file's size on disk: where a store's space goes (`cargo run -p
//! sebroker-store --release --example tree_sizes -- DATA/store`; on a
//! copy, or a store no server has open).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: tree_sizes STORE_DIR")?;
    let db = sled::Config::new().path(&dir).open()?;
    let mut total = 0u64;
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        let (mut n, mut k, mut v) = (0u64, 0u64, 0u64);
        for kv in tree.iter() {
            let (key, val) = kv?;
            n += 1;
            k += key.len() as u64;
            v += val.len() as u64;
        }
        total += k + v;
        println!(
            "{:<16} {n:>9} entries {:>10.1} MiB keys {:>10.1} MiB values",
            String::from_utf8_lossy(&name),
            k as f64 / 1048576.0,
            v as f64 / 1048576.0
        );
    }
    println!(
        "live bytes {:.1} MiB; on disk {:.1} MiB",
        total as f64 / 1048576.0,
        db.size_on_disk()? as f64 / 1048576.0
    );
    Ok(())
}
