# Models come with the image; nothing is fetched from a model hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# The front door: a login on the first console or the serial console (where
# `make run` drops a new user) opens noos-shell. Leaving it (Ctrl+Q) lands in
# this plain login shell; `noos-shell` opens it again.
if [ -z "${NOOS_SHELL_STARTED:-}" ] && [ -x /usr/bin/noos-shell ]; then
    case "$-:$(tty 2>/dev/null)" in
    *i*:/dev/tty1 | *i*:/dev/ttyS0)
        export NOOS_SHELL_STARTED=1
        # A serial console knows no size of its own: say 80x24 unless set.
        if [ "$(stty size 2>/dev/null)" = "0 0" ]; then
            stty rows 24 cols 80
        fi
        noos-shell
        ;;
    esac
fi
