#!/bin/bash
# Builds the fedgw appliance disk image: Debian 12 minbase, UEFI systemd-boot, GPT with
# ESP + system (fedgw-root) + data (fedgw-data) partitions. See docs/image.md.
#
#   image/build.sh [--out DIR] [--build-dir DIR | --from-head] [--fedgw BINARY]
#                  [--network-file FILE.network] [--root-password-file FILE]
#
# No loop devices and no mounts: the rootfs is a directory made by mmdebstrap, the
# ext4 partitions are filled with mkfs.ext4 -d, the ESP is written with mtools, and the
# partitions are dd'ed into a GPT disk image laid out by sfdisk.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
HERE=$SRC/image
OUT=$HERE/out
BUILD_DIR=$SRC/build/release
FEDGW_BIN=
FROM_HEAD=0
NETWORK_FILE=
ROOT_PW_FILE=
MIRROR=${FEDGW_IMAGE_MIRROR:-/etc/apt/sources.list.d/debian.sources}
SUITE=bookworm
# Partition sizes (MiB). The system partition has a fixed size so that a newer image's
# system partition always fits the old one (image/upgrade.sh); data comes last so it can
# be grown when the virtual disk is enlarged.
ESP_MB=128
ROOT_MB=1536
DATA_MB=512
# Kernel module trees an appliance VM never loads; leaving them out saves ~200 MB.
MODULE_EXCLUDES="drivers/gpu drivers/media drivers/net/wireless drivers/bluetooth
	drivers/infiniband drivers/staging drivers/iio drivers/input/touchscreen drivers/isdn
	drivers/comedi drivers/net/can drivers/net/wwan drivers/usb/gadget drivers/video/fbdev
	drivers/scsi/lpfc drivers/scsi/qla2xxx drivers/scsi/bfa drivers/scsi/qla4xxx
	net/bluetooth net/wireless net/mac80211 sound fs/ocfs2 fs/btrfs fs/xfs fs/nfsd fs/gfs2
	fs/ceph fs/smb fs/f2fs fs/ubifs fs/afs fs/dlm fs/nilfs2 fs/reiserfs fs/jfs fs/jffs2"

usage() {
	sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=$(realpath -m "$2"); shift 2 ;;
	--build-dir) BUILD_DIR=$(realpath -m "$2"); shift 2 ;;
	--fedgw) FEDGW_BIN=$(realpath "$2"); shift 2 ;;
	--network-file) NETWORK_FILE=$(realpath "$2"); shift 2 ;;
	--root-password-file) ROOT_PW_FILE=$(realpath "$2"); shift 2 ;;
	--from-head) FROM_HEAD=1; shift ;;
	-h|--help) usage 0 ;;
	*) echo "build.sh: unknown argument $1" >&2; usage 2 ;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "build.sh: must run as root (mmdebstrap root mode, file ownership in the rootfs)" >&2
	exit 1
fi
for tool in mmdebstrap mkfs.ext4 mkfs.vfat mmd mcopy sfdisk qemu-img cmake; do
	command -v "$tool" >/dev/null || { echo "build.sh: missing $tool (see docs/image.md)" >&2; exit 1; }
done

T0=$(date +%s)
step() { printf '[%4ds] %s\n' $(($(date +%s) - T0)) "$*"; }

WORK=$OUT/work
rm -rf "$WORK"
mkdir -p "$OUT" "$WORK"
ROOTFS=$WORK/rootfs

# --- 1. the fedgw binary ---------------------------------------------------------------
if [ -z "$FEDGW_BIN" ] && [ "$FROM_HEAD" = 1 ]; then
	# The committed tree only (a local clone of HEAD), unaffected by uncommitted edits.
	step "building fedgw (Release) from $(git -C "$SRC" rev-parse --short HEAD) (HEAD)"
	git clone -q --shared --no-checkout "$SRC" "$WORK/src"
	git -C "$WORK/src" checkout -q --detach "$(git -C "$SRC" rev-parse HEAD)"
	cmake -S "$WORK/src" -B "$WORK/src/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$WORK/src/build" --target fedgw -j2
	FEDGW_BIN=$WORK/fedgw
	cp "$WORK/src/build/core/daemon/fedgw" "$FEDGW_BIN"
	rm -rf "$WORK/src"
elif [ -z "$FEDGW_BIN" ]; then
	step "building fedgw (Release) in $BUILD_DIR"
	if [ "$BUILD_DIR" = "$SRC/build/release" ]; then
		(cd "$SRC" && cmake --preset release >/dev/null)
	else
		cmake -S "$SRC" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
	fi
	cmake --build "$BUILD_DIR" --target fedgw -j2
	FEDGW_BIN=$BUILD_DIR/core/daemon/fedgw
	[ -x "$FEDGW_BIN" ] || FEDGW_BIN=$(find "$BUILD_DIR" -type f -name fedgw -perm -u+x \
		-not -path '*/CMakeFiles/*' | head -n 1)
	[ -n "$FEDGW_BIN" ] || { echo "build.sh: fedgw binary not found in $BUILD_DIR" >&2; exit 1; }
fi
step "fedgw binary: $FEDGW_BIN"

# --- 2. packages: a fixed base set plus the owners of every library fedgw links --------
PKGS="systemd systemd-sysv udev systemd-resolved dbus iproute2 e2fsprogs linux-image-amd64
	initramfs-tools zstd systemd-boot-efi
	libmicrohttpd12 libbearssl0 libexpat1 liblmdb0 libunbound8 libuv1 libjansson4 libargon2-1"
# owner PATH: the Debian package shipping a library (dpkg may know it under /lib or /usr/lib).
owner() {
	local p real o
	real=$(realpath "$1")
	for p in "$1" "$real" "${real#/usr}" "/usr${real#/usr}"; do
		o=$(dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -n "$o" ] && { echo "$o"; return 0; }
	done
	return 1
}
for lib in $(ldd "$FEDGW_BIN" | awk '/=> \//{ print $3 }'); do
	pkg=$(owner "$lib") || { echo "build.sh: $lib (linked by fedgw) is not from a Debian package" >&2; exit 1; }
	PKGS="$PKGS $pkg"
done
PKGS=$(echo $PKGS | tr ' ' '\n' | sort -u | tr '\n' ',' | sed 's/,$//')
step "packages: $PKGS"

# --- 3. rootfs -------------------------------------------------------------------------
DPKGOPTS=(--dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-include=/usr/share/doc/*/copyright'
	--dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-include=/usr/share/locale/locale.alias'
	--dpkgopt='path-exclude=/usr/share/lintian/*')
for m in $MODULE_EXCLUDES; do
	DPKGOPTS+=(--dpkgopt="path-exclude=/lib/modules/*/kernel/$m/*"
		--dpkgopt="path-exclude=/usr/lib/modules/*/kernel/$m/*")
done
CACHE=${FEDGW_IMAGE_CACHE:-/var/cache/fedgw-image/debs}
mkdir -p "$CACHE"
step "mmdebstrap $SUITE (minbase) from $MIRROR"
# The initramfs must be small and generic (any hypervisor's disk controller), and it
# is generated inside the chroot, so host-dependent MODULES=dep cannot be used.
mmdebstrap --mode=root --variant=minbase --include="$PKGS" "${DPKGOPTS[@]}" \
	--aptopt='Acquire::Retries "3"' --skip=download/empty \
	--setup-hook='mkdir -p "$1"/etc/initramfs-tools/conf.d "$1"/var/cache/apt/archives' \
	--setup-hook='printf "MODULES=most\nCOMPRESS=zstd\nFSTYPE=ext4\n" > "$1"/etc/initramfs-tools/conf.d/fedgw.conf' \
	--setup-hook="cp '$HERE/rootfs/etc/fstab' \"\$1\"/etc/fstab" \
	--setup-hook="sync-in $CACHE /var/cache/apt/archives/" \
	--customize-hook="sync-out /var/cache/apt/archives $CACHE" \
	"$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/mmdebstrap.log" 2>&1 ||
	{ tail -n 30 "$WORK/mmdebstrap.log" >&2; exit 1; }
rm -f "$CACHE"/lock "$CACHE"/*.deb.part 2>/dev/null || true

step "customising the rootfs"
cp -a "$HERE/rootfs/." "$ROOTFS/"
install -m 0755 "$FEDGW_BIN" "$ROOTFS/usr/bin/fedgw"
mkdir -p "$ROOTFS/usr/share/doc/fedgw"
cp "$SRC/docs/image.md" "$ROOTFS/usr/share/doc/fedgw/image.md" 2>/dev/null || true
systemd-sysusers --root="$ROOTFS"
systemd-tmpfiles --root="$ROOTFS" --create /usr/lib/tmpfiles.d/fedgw.conf >/dev/null 2>&1 || true
FEDGW_UID=$(awk -F: '$1 == "fedgw" { print $3 }' "$ROOTFS/etc/passwd")
FEDGW_GID=$(awk -F: '$1 == "fedgw" { print $4 }' "$ROOTFS/etc/passwd")
[ -n "$FEDGW_UID" ] || { echo "build.sh: fedgw user was not created" >&2; exit 1; }
install -d -m 0700 -o "$FEDGW_UID" -g "$FEDGW_GID" "$ROOTFS/var/lib/fedgw"
systemctl --root="$ROOTFS" enable systemd-networkd.service systemd-resolved.service \
	fedgw.service fedgw-init.service fedgw-banner.service serial-getty@ttyS0.service \
	>"$WORK/enable.log" 2>&1 || { cat "$WORK/enable.log" >&2; exit 1; }
systemctl --root="$ROOTFS" enable systemd-networkd-wait-online.service >/dev/null 2>&1 || true
ln -sf ../run/systemd/resolve/stub-resolv.conf "$ROOTFS/etc/resolv.conf"
mkdir -p "$ROOTFS/var/log/journal"
if [ -n "$NETWORK_FILE" ]; then
	# A site's own systemd-networkd configuration (static address) replaces DHCP.
	rm -f "$ROOTFS/etc/systemd/network/80-fedgw-dhcp.network"
	install -m 0644 "$NETWORK_FILE" "$ROOTFS/etc/systemd/network/10-site.network"
fi
if [ -n "$ROOT_PW_FILE" ]; then
	# root stays locked unless a password is given: the console is the only way in.
	HASH=$(head -n 1 "$ROOT_PW_FILE" | tr -d '\n' | openssl passwd -6 -stdin)
	awk -F: -v OFS=: -v h="$HASH" '$1 == "root" { $2 = h } { print }' "$ROOTFS/etc/shadow" \
		>"$WORK/shadow"
	cat "$WORK/shadow" >"$ROOTFS/etc/shadow"
	rm -f "$WORK/shadow"
else
	sed -i 's/^root:[^:]*:/root:*:/' "$ROOTFS/etc/shadow"
fi
# A fresh machine id on every machine's first boot.
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
KVER=$(basename "$(ls -d "$ROOTFS"/lib/modules/* | sort -V | tail -n 1)")
[ -f "$ROOTFS/boot/vmlinuz-$KVER" ] && [ -f "$ROOTFS/boot/initrd.img-$KVER" ] ||
	{ echo "build.sh: kernel or initrd for $KVER missing" >&2; exit 1; }
chroot "$ROOTFS" dpkg-query -W -f '${Package} ${Version}\n' >"$OUT/packages.txt"
step "rootfs: $(du -sh --exclude=proc --exclude=sys "$ROOTFS" | cut -f1), kernel $KVER"

# --- 4. partitions ----------------------------------------------------------------------
step "ESP (FAT32, systemd-boot)"
ESP=$WORK/esp.img
mkfs.vfat -C -F 32 -n FEDGW-ESP "$ESP" $((ESP_MB * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$ESP" ::/EFI ::/EFI/BOOT ::/EFI/systemd ::/loader ::/loader/entries ::/fedgw
BOOTEFI=$ROOTFS/usr/lib/systemd/boot/efi/systemd-bootx64.efi
mcopy -i "$ESP" "$BOOTEFI" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$ESP" "$BOOTEFI" ::/EFI/systemd/systemd-bootx64.efi
mcopy -i "$ESP" "$ROOTFS/boot/vmlinuz-$KVER" ::/fedgw/vmlinuz
mcopy -i "$ESP" "$ROOTFS/boot/initrd.img-$KVER" ::/fedgw/initrd.img
cat >"$WORK/loader.conf" <<EOF
default fedgw.conf
timeout 0
editor no
console-mode keep
EOF
# The last console= is /dev/console: boot messages and the banner go to the serial port.
cat >"$WORK/fedgw.conf" <<EOF
title fedgw ($KVER)
linux /fedgw/vmlinuz
initrd /fedgw/initrd.img
options root=PARTLABEL=fedgw-root rw rootfstype=ext4 console=tty0 console=ttyS0,115200n8 loglevel=4 systemd.show_status=auto
EOF
mcopy -i "$ESP" "$WORK/loader.conf" ::/loader/loader.conf
mcopy -i "$ESP" "$WORK/fedgw.conf" ::/loader/entries/fedgw.conf
# The ESP copies are the ones that boot; the system partition need not carry them twice
# (an upgrade replaces the ESP together with the system partition).
rm -f "$ROOTFS/boot/vmlinuz-$KVER" "$ROOTFS/boot/initrd.img-$KVER"
echo "The kernel and initrd live on the ESP (partition fedgw-esp, /fedgw/)." >"$ROOTFS/boot/README"

step "system partition (ext4, ${ROOT_MB} MiB)"
ROOTIMG=$WORK/root.img
mkfs.ext4 -q -L fedgw-root -d "$ROOTFS" "$ROOTIMG" "${ROOT_MB}M"

step "data partition (ext4, ${DATA_MB} MiB, owned by fedgw, 0700)"
DATADIR=$WORK/data
install -d -m 0700 -o "$FEDGW_UID" -g "$FEDGW_GID" "$DATADIR"
DATAIMG=$WORK/data.img
mkfs.ext4 -q -L fedgw-data -E root_owner="$FEDGW_UID:$FEDGW_GID" -d "$DATADIR" "$DATAIMG" "${DATA_MB}M"
# mkfs sets the owner of the root directory but not its mode.
debugfs -w -R "sif / mode 040700" "$DATAIMG" >/dev/null 2>&1
[ "$(debugfs -R 'stat /' "$DATAIMG" 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')" = 0700 ] ||
	{ echo "build.sh: cannot set the data partition's mode" >&2; exit 1; }

# --- 5. GPT disk ------------------------------------------------------------------------
step "GPT disk image"
RAW=$OUT/fedgw.raw
rm -f "$RAW"
truncate -s $(((1 + ESP_MB + ROOT_MB + DATA_MB + 1) * 1024 * 1024)) "$RAW"
S=2048 # sectors per MiB
sfdisk -q "$RAW" <<EOF
label: gpt
first-lba: 2048
start=$((1 * S)), size=$((ESP_MB * S)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="fedgw-esp"
start=$(((1 + ESP_MB) * S)), size=$((ROOT_MB * S)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="fedgw-root"
start=$(((1 + ESP_MB + ROOT_MB) * S)), size=$((DATA_MB * S)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="fedgw-data"
EOF
dd if="$ESP" of="$RAW" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$ROOTIMG" of="$RAW" bs=1M seek=$((1 + ESP_MB)) conv=notrunc,sparse status=none
dd if="$DATAIMG" of="$RAW" bs=1M seek=$((1 + ESP_MB + ROOT_MB)) conv=notrunc,sparse status=none

step "compressed qcow2"
QCOW=$OUT/fedgw.qcow2
rm -f "$QCOW"
qemu-img convert -c -m 2 -W -O qcow2 "$RAW" "$QCOW"
"$FEDGW_BIN" version >"$OUT/fedgw-version.txt" 2>&1 || true
rm -rf "$WORK"
step "done: $RAW ($(du -h --apparent-size "$RAW" | cut -f1) apparent, $(du -h "$RAW" | cut -f1) used), $QCOW ($(du -h "$QCOW" | cut -f1))"
