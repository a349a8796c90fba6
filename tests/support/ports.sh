# SPDX-License-Identifier: Apache-2.0
# Ports on 127.0.0.1 for servers that tests and benchmarks start, sourced by
# bash scripts.
#
#   port_free PORT     0 when nothing listens on PORT now
#   pick_port          prints a free port above 20000 (0 when none was found)
#   wait_for PORT      until something listens on PORT (10 s at most)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p
    for _ in $(seq 50); do
        p=$((20001 + RANDOM % 40000))
        port_free "$p" && { echo "$p"; return; }
    done
    echo 0
}
wait_for() {
    for _ in $(seq 100); do
        port_free "$1" || return 0
        sleep 0.1
    done
    return 1
}
