//! Module state from /sys/module, and rmmod / insmod.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Our module's name as the kernel knows it.
pub const OURS: &str = "macvlan_vrrp";
/// The C driver, which must never be loaded during a run.
pub const C_DRIVER: &str = "macvlan";

pub fn sys_path(name: &str) -> PathBuf {
    Path::new("/sys/module").join(name)
}

pub fn is_loaded(name: &str) -> bool {
    sys_path(name).exists()
}

/// /sys/module/<name>/initstate ("live", "coming", "going"), if readable.
pub fn initstate(name: &str) -> Option<String> {
    std::fs::read_to_string(sys_path(name).join("initstate"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether loaded module `name` is out of tree (its taint flags, in
/// `/sys/module/<name>/taint`, hold `O`: built as an external module); None
/// when it is not loaded.
pub fn out_of_tree(name: &str) -> Option<bool> {
    if !is_loaded(name) {
        return None;
    }
    let t = std::fs::read_to_string(sys_path(name).join("taint")).unwrap_or_default();
    Some(t.contains('O'))
}

/// "present"/"absent" for messages.
pub fn presence(name: &str) -> &'static str {
    if is_loaded(name) {
        "present"
    } else {
        "absent"
    }
}

/// The result of running a helper program.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub status: String,
    pub output: String,
}

impl Run {
    pub fn summary(&self) -> String {
        if self.output.trim().is_empty() {
            self.status.clone()
        } else {
            format!("{}: {}", self.status, self.output.trim())
        }
    }
}

pub fn run(cmd: &mut Command) -> Run {
    match cmd.output() {
        Ok(o) => {
            let mut output = String::from_utf8_lossy(&o.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&o.stderr));
            Run {
                success: o.status.success(),
                status: o.status.to_string(),
                output,
            }
        }
        Err(e) => Run {
            success: false,
            status: format!("could not run {:?}: {e}", cmd.get_program()),
            output: String::new(),
        },
    }
}

pub fn rmmod(name: &str) -> Run {
    run(Command::new("rmmod").arg(name))
}

pub fn insmod(path: &Path) -> Run {
    run(Command::new("insmod").arg(path))
}

/// `modprobe <name>` (the C driver comes from the running kernel's
/// /lib/modules).
pub fn modprobe(name: &str) -> Run {
    run(Command::new("modprobe").arg(name))
}
