#!/bin/sh
# apt-get install PACKAGES without starting the services they bring (rabbitmq-server would start a system-wide
# broker on 5672): a policy-rc.d that refuses every start is in place for the install when none is, and a
# service that started all the same (systemd) is stopped and disabled. The tests start their own broker.
set -eu
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
fi
status=0
apt-get install -y -q "$@" || status=$?
[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
case " $* " in
*" rabbitmq-server "*)
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet rabbitmq-server 2>/dev/null; then
        systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
    fi
    ;;
esac
exit $status
