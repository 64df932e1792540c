#!/bin/bash
# Upgrades a fedgw appliance disk in place: the boot (fedgw-esp) and system (fedgw-root)
# partitions are replaced by those of a newly built image; the data partition
# (fedgw-data, /var/lib/fedgw) is left untouched and verified unchanged. See docs/image.md.
#
#   image/upgrade.sh DISK NEW_IMAGE
#
# DISK is the VM's disk (raw or qcow2; the VM must be shut down), NEW_IMAGE is
# image/out/fedgw.raw or fedgw.qcow2 from a newer image/build.sh. A qcow2 DISK is rewritten
# as a standalone qcow2 (any backing file is merged into it).
set -euo pipefail

if [ $# -ne 2 ]; then
	sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
DISK=$(realpath "$1")
NEW=$(realpath "$2")
for tool in sfdisk jq qemu-img dd fallocate sha256sum; do
	command -v "$tool" >/dev/null || { echo "upgrade.sh: missing $tool" >&2; exit 1; }
done
[ -f "$DISK" ] || { echo "upgrade.sh: no disk $DISK" >&2; exit 1; }
[ -f "$NEW" ] || { echo "upgrade.sh: no image $NEW" >&2; exit 1; }

T0=$(date +%s)
step() { printf '[%4ds] %s\n' $(($(date +%s) - T0)) "$*"; }
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/fedgw-upgrade.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

fmt() { qemu-img info -U --output=json "$1" | jq -r .format; }

# Work on raw files: convert qcow2 inputs (qemu-img also refuses a disk a running VM holds).
DISK_FMT=$(fmt "$DISK")
# Opening for writing takes QEMU's image lock: this fails while a VM runs on DISK.
qemu-io -f "$DISK_FMT" -c quit "$DISK" >/dev/null 2>&1 ||
	{ echo "upgrade.sh: $DISK is in use (shut the VM down first)" >&2; exit 1; }
if [ "$DISK_FMT" = raw ]; then
	RAW=$DISK
else
	step "converting $DISK ($DISK_FMT) to raw"
	RAW=$TMP/disk.raw
	qemu-img convert -O raw "$DISK" "$RAW"
fi
if [ "$(fmt "$NEW")" = raw ]; then
	NEWRAW=$NEW
else
	step "converting $NEW to raw"
	NEWRAW=$TMP/new.raw
	qemu-img convert -O raw "$NEW" "$NEWRAW"
fi

# part FILE NAME -> "start size" in 512-byte sectors, from the GPT partition name.
part() {
	sfdisk -J "$1" | jq -r --arg n "$2" \
		'.partitiontable as $t | $t.partitions[] | select(.name == $n)
		 | "\(.start * ($t.sectorsize // 512) / 512) \(.size * ($t.sectorsize // 512) / 512)"'
}

read -r DATA_START DATA_SIZE <<<"$(part "$RAW" fedgw-data)" ||
	{ echo "upgrade.sh: $DISK has no fedgw-data partition" >&2; exit 1; }
[ -n "${DATA_SIZE:-}" ] || { echo "upgrade.sh: $DISK has no fedgw-data partition" >&2; exit 1; }
step "hashing the data partition (fedgw-data)"
DATA_SUM=$(dd if="$RAW" bs=1M iflag=skip_bytes,count_bytes skip=$((DATA_START * 512)) \
	count=$((DATA_SIZE * 512)) status=none | sha256sum)

for name in fedgw-esp fedgw-root; do
	read -r OS OZ <<<"$(part "$RAW" "$name")"
	read -r NS NZ <<<"$(part "$NEWRAW" "$name")"
	[ -n "${OZ:-}" ] || { echo "upgrade.sh: $DISK has no $name partition" >&2; exit 1; }
	[ -n "${NZ:-}" ] || { echo "upgrade.sh: $NEW has no $name partition" >&2; exit 1; }
	if [ "$NZ" -gt "$OZ" ]; then
		echo "upgrade.sh: new $name ($((NZ / 2048)) MiB) does not fit the old one ($((OZ / 2048)) MiB)" >&2
		exit 1
	fi
	step "replacing $name ($((NZ / 2048)) MiB at sector $OS)"
	# Deallocate the old partition (it reads as zeros), then copy the new one sparsely:
	# nothing of the old file system survives, and the raw file stays sparse.
	fallocate --punch-hole --keep-size --offset $((OS * 512)) --length $((OZ * 512)) "$RAW"
	dd if="$NEWRAW" of="$RAW" bs=1M iflag=skip_bytes,count_bytes oflag=seek_bytes \
		skip=$((NS * 512)) count=$((NZ * 512)) seek=$((OS * 512)) conv=notrunc,sparse status=none
done
sync "$RAW"

AFTER=$(dd if="$RAW" bs=1M iflag=skip_bytes,count_bytes skip=$((DATA_START * 512)) \
	count=$((DATA_SIZE * 512)) status=none | sha256sum)
[ "$AFTER" = "$DATA_SUM" ] || { echo "upgrade.sh: data partition changed!" >&2; exit 1; }
step "data partition unchanged (sha256 ${DATA_SUM%% *})"

if [ "$RAW" != "$DISK" ]; then
	step "writing $DISK back as qcow2"
	qemu-img convert -O qcow2 "$RAW" "$TMP/disk.qcow2"
	mv "$TMP/disk.qcow2" "$DISK"
fi
step "upgrade done: $DISK"
