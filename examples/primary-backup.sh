#!/bin/sh
# keepalived notify script for a primary/backup pair running ctsyncd (or
# conntrackd: the commands are the same). keepalived calls it with the state
# it just entered: primary, backup or fault.
#
# Override the defaults from the environment or edit them here.
CTSYNCD_BIN=${CTSYNCD_BIN:-/usr/local/bin/ctsyncd}
CTSYNCD_CONFIG=${CTSYNCD_CONFIG:-/etc/conntrackd/conntrackd.conf}
CTSYNCD_LOCK=${CTSYNCD_LOCK:-/var/lock/conntrackd.lock}

run() {
    # Every step is tried even if an earlier one failed: a half-done
    # takeover is better than none. Failures go to syslog.
    "$CTSYNCD_BIN" -C "$CTSYNCD_CONFIG" "$@" || logger -t ctsync "ERROR: ctsyncd $* failed"
}

case "$1" in
primary)
    run -c        # put what the old primary synced into our kernel
    run -f        # drop both caches: they describe the old roles
    run -R        # refill the internal cache from our kernel
    run -B        # and send it all to the new backup
    ;;
backup)
    # Is the daemon there? If not, clear a stale lock and start it.
    if ! "$CTSYNCD_BIN" -C "$CTSYNCD_CONFIG" -s >/dev/null 2>&1; then
        if [ -f "$CTSYNCD_LOCK" ]; then
            logger -t ctsync "WARNING: ctsyncd was not stopped cleanly; removing $CTSYNCD_LOCK"
            rm -f "$CTSYNCD_LOCK"
        fi
        "$CTSYNCD_BIN" -C "$CTSYNCD_CONFIG" -d || { logger -t ctsync "ERROR: cannot start ctsyncd"; exit 1; }
    fi
    run -t        # let the kernel forget what we no longer own, after PurgeTimeout
    run -n        # ask the new primary for its state
    ;;
fault)
    run -t
    ;;
*)
    echo "usage: $0 {primary|backup|fault}" >&2
    exit 1
    ;;
esac
exit 0
