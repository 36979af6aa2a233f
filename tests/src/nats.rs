//! A real `nats-server` (Debian's package; `scripts/nats-server` installs it) for the
//! collector's tests: a cluster of nodes on ephemeral loopback ports, each node a
//! child process that a test may kill -9.
//!
//! [`require`] finds the binary. When it is missing the test fails loudly, unless
//! `AMI_PARKING_ALLOW_SKIP=1`: then the skip is recorded in the test ledger.

use crate::process::AppProcess;
use crate::skips::{self, Needs};
use std::path::PathBuf;
use std::time::Duration;

/// The `nats-server` binary, if installed.
pub fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/sbin/nats-server")]).find(|p| p.is_file())
}

/// The binary, or `None` to skip (only with `AMI_PARKING_ALLOW_SKIP=1`).
pub fn require() -> Option<PathBuf> {
    match binary() {
        Some(b) => {
            skips::ran(Needs::Nats);
            Some(b)
        }
        None => skips::skip(
            Needs::Nats,
            "nats-server is not installed, so this NATS test cannot run. \
             Install Debian's package: scripts/nats-server (apt-get install nats-server, as root).",
        ),
    }
}

/// `n` free loopback ports (bound, then released; the OS does not hand them out
/// again at once).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port")).collect();
    held.iter().map(|l| l.local_addr().expect("local address").port()).collect()
}

/// A cluster of `nats-server` nodes on loopback.
pub struct Cluster {
    /// Each node's process (`None` once killed).
    pub nodes: Vec<Option<AppProcess>>,
    /// Each node's client port.
    pub ports: Vec<u16>,
    dir: PathBuf,
}

impl Cluster {
    /// Starts `n` nodes of binary `bin` and waits until each is ready for clients
    /// (`config`: extra configuration text every node reads, e.g. accounts).
    pub async fn start(bin: &std::path::Path, n: usize, config: &str) -> Cluster {
        let ports = free_ports(2 * n);
        let (client, cluster) = ports.split_at(n);
        let dir = std::env::temp_dir().join(format!("ami-parking-nats-{}-{}", std::process::id(), client[0]));
        std::fs::create_dir_all(&dir).expect("make the cluster's directory");
        let routes: Vec<String> = cluster.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect();
        let mut nodes = Vec::new();
        for i in 0..n {
            let conf = dir.join(format!("n{i}.conf"));
            let text = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{}\n\
                 cluster {{ name: ami, listen: 127.0.0.1:{}, routes: [{}] }}\n{config}\n",
                client[i],
                cluster[i],
                routes.join(", "),
            );
            std::fs::write(&conf, text).expect("write a node's configuration");
            let conf = conf.to_string_lossy().into_owned();
            nodes.push(Some(AppProcess::spawn(&bin.to_string_lossy(), &["-c", &conf])));
        }
        for node in nodes.iter_mut().flatten() {
            node.line("nats-server ready", Duration::from_secs(20), |l| l.contains("Server is ready")).await;
        }
        Cluster { nodes, ports: client.to_vec(), dir }
    }

    /// `nats://` URL of `tenant`/`server` trying node `first` first, then the others.
    pub fn url(&self, first: usize, tenant: &str, server: &str) -> String {
        let also: Vec<String> = (0..self.ports.len())
            .filter(|&i| i != first)
            .map(|i| format!("127.0.0.1:{}", self.ports[i]))
            .collect();
        let also = if also.is_empty() { String::new() } else { format!("?also={}", also.join(",")) };
        format!("nats://127.0.0.1:{}/{tenant}/{server}{also}", self.ports[first])
    }

    /// `nats://` URL with a user (the password from `password_file`).
    pub fn url_as(
        &self,
        first: usize,
        user: &str,
        password_file: &std::path::Path,
        tenant: &str,
        server: &str,
    ) -> String {
        let plain = self.url(first, tenant, server);
        let rest = plain.trim_start_matches("nats://");
        let sep = if rest.contains('?') { '&' } else { '?' };
        format!("nats://{user}@{rest}{sep}password_file={}", password_file.display())
    }

    /// Kills node `i` with SIGKILL and waits for its exit.
    pub async fn kill9(&mut self, i: usize) {
        if let Some(mut node) = self.nodes[i].take() {
            node.signal("KILL");
            node.exit_within(Duration::from_secs(5)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Each process is killed as it is dropped (`kill_on_drop`).
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
