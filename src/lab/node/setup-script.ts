/**
 * What runs (from <scratch>/setup.sh) as PID 1 of a node's fresh PID namespace, inside its private
 * mount namespace, before it becomes systemd. Every value comes in through
 * the environment (NODE_SCRATCH, NODE_NAME, NODE_ETCD_BIN, NODE_ETCD_DATA_BIND),
 * so nothing is interpolated into the script.
 *
 * Why each mount:
 *  - the root is an overlay of the host's `/` whose upper layer is a tmpfs of
 *    this namespace: the node may write anywhere, the host sees none of it,
 *    and it vanishes with the namespace;
 *  - /tmp, /run, /var/tmp, /dev/shm are private tmpfs: systemd-tmpfiles
 *    empties /tmp at boot, and the host's /tmp holds other people's work;
 *  - /root is an empty tmpfs: none of the host's dotfiles (root's shell
 *    startup files run pyenv on these machines) are ever read in a node;
 *  - /var/lib/etcd is a directory of the lab dir on disk, so large data is
 *    not held in RAM (NODE_ETCD_DATA_BIND=1); else (0) it is a plain, empty
 *    directory of the node's root, as on a default master, where a data dir
 *    can be renamed (a mount point cannot: rename(2) says EBUSY);
 *  - /proc/sys and /sys are read-only, so systemd-sysctl and udev skip
 *    themselves instead of retuning the host's kernel (the network and many
 *    sysctls are the host's);
 *  - /sys/fs/cgroup is a cgroup2 mount of the node's own cgroup namespace,
 *    so each node's systemd manages its own subtree and never a sibling's;
 *  - /dev is a small tmpfs with the usual device nodes bound in and
 *    /dev/console bound to /dev/null: the host's console stays quiet.
 * The host's enabled units (*.wants, *.requires under /etc/systemd/system)
 * are removed in the overlay, then the seed (units, masks, node files)
 * is copied over, and systemd boots the node's own target only.
 *
 * Until the final chroot, an absolute symlink under $R resolves against the
 * host's root: the host's /etc/systemd/system/sshd.service links to
 * /lib/systemd/system/ssh.service, and a `cp` onto it from here once
 * rewrote the host's file. So everything that writes into the node's files
 * runs chrooted into it (removing the wants, copying the seed, with
 * --remove-destination so a seeded unit replaces an alias instead of writing
 * through it), and the few writes made from outside (mount points, the etcd
 * binaries' stand-in files) first check their path is no symlink.
 */
export const NODE_TARGET = 'etcd-runbook-node.target';

export const SETUP_SCRIPT = `set -eu
S="$NODE_SCRATCH"; R="$S/root"
not_symlinks() {
  for p in "$@"; do
    if [ -L "$R$p" ]; then echo "node root: $p is a symlink on this host, which a write would follow out of the node" >&2; exit 1; fi
  done
}
mount -t tmpfs -o mode=0755 tmpfs "$S/rw"
mkdir "$S/rw/upper" "$S/rw/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$S/rw/upper,workdir=$S/rw/work" "$R"
not_symlinks /proc /sys /dev /run /tmp /var/tmp /root
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$R/dev"
for d in null zero full random urandom tty; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
touch "$R/dev/console"; mount --bind /dev/null "$R/dev/console"
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"; ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$R/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/var/tmp"
mount -t tmpfs -o mode=0700 tmpfs "$R/root"
not_symlinks /var /var/lib /var/lib/etcd /usr /usr/bin /usr/bin/etcd /usr/bin/etcdctl /usr/bin/etcdutl
if [ "\${NODE_ETCD_DATA_BIND:-1}" = 1 ]; then
  mkdir -p "$R/var/lib/etcd"
  mount --bind "$S/var-lib-etcd" "$R/var/lib/etcd"
else
  # the host's /var/lib/etcd (the lower layer) may hold data: chrooted, so the node's copy only is emptied
  chroot "$R" /bin/sh -c 'rm -rf /var/lib/etcd && mkdir -m 0700 /var/lib/etcd'
fi
if [ -n "\${NODE_ETCD_BIN:-}" ]; then
  for b in etcd etcdctl etcdutl; do
    [ -e "$NODE_ETCD_BIN/$b" ] || continue
    [ -e "$R/usr/bin/$b" ] || touch "$R/usr/bin/$b"
    mount --bind "$NODE_ETCD_BIN/$b" "$R/usr/bin/$b"
  done
fi
# host directories shared into the node (binds.tsv: host path, node path, ro|rw), placed where the node resolves the path
tab=$(printf '\t')
while IFS="$tab" read -r src dst mode; do
  dst=$(chroot "$R" /bin/sh -c 'mkdir -p "$1" && readlink -f "$1"' sh "$dst")
  mount --bind "$src" "$R$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$R$dst"; fi
done < "$S/binds.tsv"
mkdir "$R/run/etcd-runbook-seed"
mount --bind "$S/seed" "$R/run/etcd-runbook-seed"
chroot "$R" /bin/sh -c 'rm -rf /etc/systemd/system/*.wants /etc/systemd/system/*.requires && cp -a --remove-destination /run/etcd-runbook-seed/. /'
umount "$R/run/etcd-runbook-seed"
rmdir "$R/run/etcd-runbook-seed"
hostname "$NODE_NAME"
exec chroot "$R" /lib/systemd/systemd --unit=${NODE_TARGET}
`;

/**
 * Run by the host: move into the node's cgroup ($1) so the cgroup namespace
 * unshared next is rooted there, then make the namespaces. --kill-child: if
 * unshare dies (killed with the test that started it), so does the node.
 */
export const LAUNCH_SCRIPT = `echo $$ > "$1/cgroup.procs"
exec unshare --pid --fork --mount --uts --ipc --cgroup --propagation private --kill-child=SIGKILL -- /bin/sh "$NODE_SCRATCH/setup.sh"
`;
