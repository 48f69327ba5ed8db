//! Network namespaces made with unshare(2)/setns(2), never with `ip`.
//!
//! A namespace is held by an open fd. Like `ip netns add`, it is also
//! bind-mounted on `/run/netns/<name>` so that a person debugging a failed
//! VM run can use `ip netns exec`; if that mount fails the fd alone keeps the
//! namespace alive. Dropping a [`Netns`] deletes it (unmount + unlink), so
//! failure paths clean up too.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::nl::{Nl, NlTask};

pub const NETNS_RUN_DIR: &str = "/run/netns";
const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

pub struct Netns {
    name: String,
    fd: OwnedFd,
    mount_path: Option<PathBuf>,
    deleted: bool,
}

impl Netns {
    /// Create a fresh namespace. A stale `/run/netns/<name>` left by an
    /// earlier run is removed first.
    pub fn create(name: &str) -> Result<Netns> {
        let path = Path::new(NETNS_RUN_DIR).join(name);
        if path.exists() {
            remove_mount(&path).with_context(|| format!("removing stale {}", path.display()))?;
        }

        let orig = File::open(THREAD_NETNS).context("opening current netns")?;
        unshare(CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
        let new = File::open(THREAD_NETNS).map(OwnedFd::from);
        // Always go back, whatever happened.
        setns(orig.as_fd(), CloneFlags::CLONE_NEWNET)
            .context("setns back to the original netns")?;
        let fd = new.context("opening the new netns")?;

        let mut ns = Netns {
            name: name.to_string(),
            fd,
            mount_path: None,
            deleted: false,
        };
        match bind_mount(&ns.fd, &path) {
            Ok(()) => ns.mount_path = Some(path),
            Err(e) => eprintln!("# note: netns {name} not bind-mounted ({e:#}); held by fd only"),
        }
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Run `f` on the current thread inside this namespace, then return to
    /// the original one.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> Result<R> {
        let orig = File::open(THREAD_NETNS).context("opening current netns")?;
        setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET)
            .with_context(|| format!("setns into {}", self.name))?;
        let r = f();
        if let Err(e) = setns(orig.as_fd(), CloneFlags::CLONE_NEWNET) {
            // Continuing in the wrong namespace would make every later
            // result meaningless.
            panic!("cannot return from netns {}: {e}", self.name);
        }
        Ok(r)
    }

    /// Open an rtnetlink connection whose socket lives in this namespace.
    /// Must be called from within the tokio runtime.
    pub fn connect(&self) -> Result<(Nl, NlTask)> {
        self.enter(|| Nl::open_here(&self.name))?
            .with_context(|| format!("netlink socket in {}", self.name))
    }

    /// A command that runs inside this namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let raw = self.fd.as_raw_fd();
        // SAFETY: only the async-signal-safe setns(2) syscall runs between
        // fork and exec; the fd is open in the child (CLOEXEC acts at exec).
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(raw, libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }

    /// `sysctl -w <key>=<value>` inside this namespace: writes
    /// /proc/sys/<key with dots as slashes> from a thread in the namespace
    /// (the net.* sysctls are per namespace). Interface names in `key` must
    /// not contain dots.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        self.enter(|| fs::write(&path, value))?
            .with_context(|| format!("sysctl {key}={value} in netns {}", self.name))
    }

    /// Reads a sysctl inside this namespace.
    pub fn sysctl_get(&self, key: &str) -> Result<String> {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        Ok(self
            .enter(|| fs::read_to_string(&path))?
            .with_context(|| format!("reading sysctl {key} in netns {}", self.name))?
            .trim()
            .to_string())
    }

    /// Delete the namespace's name. The namespace itself goes away once the
    /// fd and every socket or process in it are gone.
    pub fn delete(mut self) -> Result<()> {
        self.do_delete()
    }

    fn do_delete(&mut self) -> Result<()> {
        if self.deleted {
            return Ok(());
        }
        self.deleted = true;
        if let Some(p) = self.mount_path.take() {
            remove_mount(&p)?;
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = self.do_delete() {
            eprintln!("# warning: deleting netns {}: {e:#}", self.name);
        }
    }
}

/// Whether `/run/netns/<name>` exists.
pub fn name_exists(name: &str) -> bool {
    Path::new(NETNS_RUN_DIR).join(name).exists()
}

fn bind_mount(fd: &OwnedFd, path: &Path) -> Result<()> {
    fs::create_dir_all(NETNS_RUN_DIR).with_context(|| format!("mkdir {NETNS_RUN_DIR}"))?;
    File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let src = format!("/proc/self/fd/{}", fd.as_raw_fd());
    if let Err(e) = mount(
        Some(src.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    ) {
        let _ = fs::remove_file(path);
        bail!("bind mount on {}: {e}", path.display());
    }
    Ok(())
}

fn remove_mount(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => bail!("umount {}: {e}", path.display()),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("unlink {}", path.display())),
    }
}
