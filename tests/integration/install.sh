#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The public face and the installed project. libcutoff.so exports exactly
# the functions cutoff.h declares, so a program that calls a private co__
# helper does not link; cutoff and cutoffd need libcutoff.so.MAJOR. Then
# "make install" into a staging root puts every file where it belongs with
# its mode, the installed programs run against the installed library, the
# embed example builds from the installed documentation against the
# installed header, library and cutoff.pc only and decides as its inputs
# say, and "make uninstall" leaves no file behind. Runs for the build under
# test (CUTOFF_BUILD: build or build/san).
source "$(dirname "$0")/lib.sh"

B="$ROOT/$CUTOFF_BUILD"
for tool in cc make nm readelf pkg-config jq; do
    command -v "$tool" >/dev/null || { not_ok "$tool is installed" "needed by this test"; finish; exit 1; }
done

# The version, read from the header as the Makefile does.
part() { sed -n "s/^#define CUTOFF_VERSION_$1 \\([0-9][0-9]*\\)\$/\\1/p" "$ROOT/include/cutoff.h"; }
MAJOR=$(part MAJOR) VERSION="$(part MAJOR).$(part MINOR).$(part PATCH)"
SO="$B/libcutoff.so.$VERSION"
[ -f "$SO" ] || { not_ok "libcutoff.so.$VERSION is built" "missing: $SO"; finish; exit 1; }

# The sanitised build is installed and linked the way it was built.
make_args=(BUILD="$CUTOFF_BUILD")
san_flags=
case $CUTOFF_BUILD in
    */san | san)
        make_args+=(SANITIZE=address,undefined)
        san_flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
        ;;
esac
# make_in DIR ARGS...: make with a clean environment of make variables, so
# that flags of an outer make (make test) do not leak in.
make_in() {
    local dir=$1
    shift
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$dir" "$@"
}

# ---- the boundary -----------------------------------------------------------

soname=$(readelf -d "$SO" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
expect_eq "the shared library's soname is libcutoff.so.MAJOR" "libcutoff.so.$MAJOR" "$soname"
expect_eq "libcutoff.so.$MAJOR links to the library" "libcutoff.so.$VERSION" "$(basename "$(readlink -f "$B/libcutoff.so.$MAJOR")")"

exported=$(nm -D --defined-only "$SO" | awk 'NF == 3 { print $3 }' | sort -u)
others=$(grep -v '^cutoff_' <<<"$exported")
if [ -n "$exported" ] && [ -z "$others" ]; then ok "libcutoff.so exports only cutoff_* symbols"
else not_ok "libcutoff.so exports only cutoff_* symbols" "also exported:" $others; fi

# Every function the header declares is exported, and nothing else is.
declared=$(grep -oE '^CUTOFF_EXPORT [^(]*\(' "$ROOT/include/cutoff.h" | sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
if [ -n "$declared" ] && [ -z "$missing$extra" ]; then
    ok "the exports are exactly the $(wc -l <<<"$declared") functions of cutoff.h"
else
    not_ok "the exports are exactly the functions of cutoff.h" "declared, not exported:" $missing \
        "exported, not declared:" $extra
fi

for prog in cutoff cutoffd; do
    dyn=$(readelf -d "$B/$prog")
    expect_match "$prog needs libcutoff.so.$MAJOR" "\(NEEDED\).*\[libcutoff\.so\.$MAJOR\]" "$dyn"
    expect_match "$prog finds it next to itself or in ../lib" '\(RUNPATH\).*\[\$ORIGIN:\$ORIGIN/\.\./lib\]' "$dyn"
done

# A program that reaches past cutoff.h does not link against the shared
# library, although the symbol is in the static one.
cat >"$WORK/private.c" <<'EOF'
#include <stddef.h>
void *co__malloc(size_t n);
int main(void) { return co__malloc(1) == NULL; }
EOF
if cc $san_flags -o "$WORK/private" "$WORK/private.c" "$B/libcutoff.so" 2>"$WORK/private.err"; then
    not_ok "a program calling co__malloc does not link against libcutoff.so" "it linked"
else
    expect_match "a program calling co__malloc does not link against libcutoff.so" \
        'undefined reference to .co__malloc' "$(cat "$WORK/private.err")"
fi
nm "$B/libcutoff.a" 2>/dev/null | grep -q ' T co__malloc$' && ok "co__malloc is in libcutoff.a (the check above means something)" \
    || not_ok "co__malloc is in libcutoff.a (the check above means something)"

# ---- make install -----------------------------------------------------------

DEST="$WORK/root"
if make_in "$ROOT" "${make_args[@]}" install DESTDIR="$DEST" PREFIX=/usr >"$WORK/install.log" 2>&1; then
    ok "make install DESTDIR=... PREFIX=/usr"
else
    not_ok "make install DESTDIR=... PREFIX=/usr" "$(tail -5 "$WORK/install.log")"
    finish
    exit 1
fi
U="$DEST/usr"
DOC="$U/share/doc/cutoff"

# MODE PATH: a regular file with this mode.
while read -r mode path; do
    if [ -f "$U/$path" ] && [ ! -L "$U/$path" ]; then
        expect_eq "installs $path with mode $mode" "$mode" "$(stat -c %a "$U/$path")"
    else
        not_ok "installs $path with mode $mode" "missing"
    fi
done <<EOF
755 bin/cutoff
755 sbin/cutoffd
644 lib/libcutoff.so.$VERSION
644 lib/libcutoff.a
644 include/cutoff.h
644 lib/pkgconfig/cutoff.pc
644 share/man/man1/cutoff.1
644 share/man/man8/cutoffd.8
644 lib/systemd/system/cutoffd.service
644 lib/sysusers.d/cutoff.conf
644 share/doc/cutoff/README.md
644 share/doc/cutoff/cutoffd.md
644 share/doc/cutoff/examples/gateway/cutoffd.json
644 share/doc/cutoff/examples/gateway/nginx-cutoff.conf
644 share/doc/cutoff/examples/gateway/Caddyfile
644 share/doc/cutoff/examples/gateway/haproxy.cfg
644 share/doc/cutoff/examples/gateway/cutoff.lua
644 share/doc/cutoff/examples/gateway/envoy.yaml
644 share/doc/cutoff/examples/gateway/traefik.yml
644 share/doc/cutoff/examples/reference-case/nodes.jsonl
644 share/doc/cutoff/examples/reference-case/evidence/usage-summary.csv
644 share/doc/cutoff/examples/embed/embed.c
644 share/doc/cutoff/examples/embed/Makefile
644 share/doc/cutoff/examples/systemd/cutoffd.json
EOF
expect_eq "libcutoff.so.$MAJOR -> libcutoff.so.$VERSION" "libcutoff.so.$VERSION" "$(readlink "$U/lib/libcutoff.so.$MAJOR")"
expect_eq "libcutoff.so resolves to the library" "$U/lib/libcutoff.so.$VERSION" "$(readlink -f "$U/lib/libcutoff.so")"
cmp -s "$ROOT/include/cutoff.h" "$U/include/cutoff.h" && ok "the installed header is include/cutoff.h" \
    || not_ok "the installed header is include/cutoff.h"
[ ! -e "$U/lib/libcutoff-common.a" ] && [ -z "$(find "$DEST" -name '*common*' -o -name '*.in')" ] \
    && ok "nothing internal or a template is installed" \
    || not_ok "nothing internal or a template is installed" "$(find "$DEST" -name '*common*' -o -name '*.in')"

pc="$U/lib/pkgconfig/cutoff.pc"
expect_eq "cutoff.pc has the header's version" "$VERSION" "$(PKG_CONFIG_PATH="$U/lib/pkgconfig" pkg-config --modversion cutoff)"
expect_match "cutoff.pc links -lcutoff" '^Libs: .*-lcutoff' "$(cat "$pc")"
expect_match "cutoff.pc names the private dependencies" '^Requires.private: sqlite3 libpq jansson libsodium libxxhash' "$(cat "$pc")"
expect_match "cutoff.pc has the prefix" '^prefix=/usr$' "$(cat "$pc")"
for page in man1/cutoff.1 man8/cutoffd.8; do
    expect_match "$page carries the version" "^\.TH [A-Z]+ [18] \"[^\"]*\" \"cutoff $VERSION\"" "$(grep '^\.TH' "$U/share/man/$page")"
done

unit=$(cat "$U/lib/systemd/system/cutoffd.service")
for line in 'ExecStart=/usr/sbin/cutoffd --config /etc/cutoff/cutoffd.json' 'User=cutoff' \
    'ProtectSystem=strict' 'NoNewPrivileges=yes' 'StateDirectory=cutoff' \
    'ExecReload=/bin/kill -HUP $MAINPID' 'PrivateTmp=yes' 'ProtectHome=yes' 'RestrictAddressFamilies='; do
    grep -qF -- "$line" <<<"$unit" && ok "the unit has $line" || not_ok "the unit has $line"
done
expect_match "the unit's user is made by sysusers.d" '^u cutoff ' "$(cat "$U/lib/sysusers.d/cutoff.conf")"
jq -e . "$DOC/examples/systemd/cutoffd.json" >/dev/null && ok "the service's example configuration is JSON" \
    || not_ok "the service's example configuration is JSON"

# The installed programs run against the installed library: their RUNPATH
# ($ORIGIN/../lib) finds it, and the build directory is not involved.
expect_eq "installed cutoff --version" "cutoff $VERSION" "$("$U/bin/cutoff" --version 2>&1 | cut -d' ' -f1,2)"
expect_eq "installed cutoffd --version" "cutoffd $VERSION" "$("$U/sbin/cutoffd" --version 2>&1)"
for prog in bin/cutoff sbin/cutoffd; do
    loaded=$(ldd "$U/$prog" | awk -v so="libcutoff.so.$MAJOR" '$1 == so { print $3 }')
    expect_eq "installed $prog loads the installed libcutoff" "$U/lib/libcutoff.so.$VERSION" \
        "$([ -n "$loaded" ] && readlink -f "$loaded")"
done

# ---- the embed example, from the installed copy ---------------------------

cp -r "$DOC/examples/embed" "$WORK/embed"
export PKG_CONFIG_PATH="$U/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DEST"
if make_in "$WORK/embed" CFLAGS="-O1 -g -Werror $san_flags" LDFLAGS="$san_flags" >"$WORK/embed.log" 2>&1; then
    ok "examples/embed builds with pkg-config against the installed cutoff"
else
    not_ok "examples/embed builds with pkg-config against the installed cutoff" "$(tail -5 "$WORK/embed.log")"
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
grep -qF "$ROOT" "$WORK/embed.log" && not_ok "the embed build names nothing in the source tree" "$(cat "$WORK/embed.log")" \
    || ok "the embed build names nothing in the source tree"
expect_match "the embed build uses the installed header and library" "-I$U/include .*-L$U/lib -lcutoff" "$(cat "$WORK/embed.log")"

# Expected decisions, derived from the example inputs: every subscription
# against a write and a read action the action document denies and an
# action it excepts, in the catalog's first region, at the start of each of
# the first two phases. Entitlement comes from the inherited plan; within
# the scope a targeted action is denied by the phase's mode ("read-only"
# spares reads); everything else is allowed.
CASE="$DOC/examples/reference-case"
cat >"$WORK/model.jq" <<'EOF'
def matches($pattern; $name):
  $pattern == "*" or $pattern == $name
  or (($pattern | endswith("*")) and ($name | startswith($pattern[:-1])));
INDEX($nodes[]; .id) as $by_id
| def chain($id): if $id == null then [] else [$id] + chain($by_id[$id].parent) end;
  def targeted($a): any($action.deny[]; matches(.; $a))
                    and (any(($action.except // [])[]; matches(.; $a)) | not);
  [$catalog.services[] as $s | $s.actions[] | {name: "\($s.name).\(.name)", class}] as $actions
| def pick($cls): first($actions[] | select(.class == $cls and targeted(.name)));
  [pick("write"), pick("read"),
   first($actions[] | . as $x | select(any(($action.except // [])[]; matches(.; $x.name))))] as $asked
| $catalog.regions[0] as $region
| $action.phases[$phase].mode as $mode
| $nodes[] | select(.kind == "subscription") | .id as $sub
| first((chain($sub)[] | $by_id[.].plan // empty), null) as $plan
| $asked[] as $a
| ($plan == null or any($catalog.plans[] | select(.name == $plan) | .services[]; matches(.; $a.name))) as $entitled
| any(chain($sub)[]; . as $n | $action.scope | index($n) != null) as $in_scope
| ((($action.regions // []) | length) == 0 or any($action.regions[]; matches(.; $region))) as $region_hit
| ($in_scope and targeted($a.name) and $region_hit) as $hit
| "\($sub) \($a.name) \($region): "
  + if ($entitled | not) then "deny not_entitled"
    elif $hit and $mode == "suspend" then "deny suspended \($action.id)"
    elif $hit and $mode == "read-only" and $a.class != "read" then "deny read_only \($action.id)"
    else "allow" end
EOF
activated=2025-09-25T12:00:00Z
for phase in 0 1; do
    at=$(jq -r --argjson i "$phase" '.phases[$i].at' "$CASE/action.json")
    mode=$(jq -r --argjson i "$phase" '.phases[$i].mode' "$CASE/action.json")
    jq -nr --argjson phase "$phase" --slurpfile nodes "$CASE/nodes.jsonl" \
        --slurpfile c "$CASE/catalog.json" --slurpfile a "$CASE/action.json" \
        '$c[0] as $catalog | $a[0] as $action | '"$(cat "$WORK/model.jq")" >"$WORK/expected.$phase"
    sed 's/: .*//' "$WORK/expected.$phase" >"$WORK/requests.$phase"
    (cd "$WORK/embed" && LD_LIBRARY_PATH="$U/lib" ./embed --activated "$activated" --at "$at" \
        "$CASE/catalog.json" "$CASE/nodes.jsonl" "$CASE/action.json" "$WORK/requests.$phase") \
        >"$WORK/got.$phase" 2>"$WORK/embed.err"
    status=$?
    n=$(wc -l <"$WORK/expected.$phase")
    if [ "$status" -eq 0 ] && diff -u "$WORK/expected.$phase" "$WORK/got.$phase" >"$WORK/diff"; then
        ok "embed decides $n requests at phase $((phase + 1)) ($at, $mode) as the inputs say"
    else
        not_ok "embed decides $n requests at phase $((phase + 1)) ($at, $mode) as the inputs say" \
            "exit $status: $(cat "$WORK/embed.err")" "$(head -20 "$WORK/diff")"
    fi
    # The model is not vacuous: the phase denies something in the scope
    # and allows something there too (read-only) or elsewhere.
    expect_match "phase $((phase + 1)) denies a targeted write in the scope" \
        "storage\.write [a-z-]+: deny $( [ "$mode" = suspend ] && echo suspended || echo read_only) EA-1" "$(cat "$WORK/got.$phase")"
done
expect_match "read-only spares reads in the scope" '^sub-8200-storage storage\.read [a-z-]+: allow$' "$(cat "$WORK/got.0")"
expect_match "the action's except list keeps security running" '^sub-8200-secops security\.[a-z]+ [a-z-]+: allow$' "$(cat "$WORK/got.1")"
expect_match "other units are untouched" '^sub-9900-maps storage\.write [a-z-]+: allow$' "$(cat "$WORK/got.1")"
out=$(cd "$WORK/embed" && LD_LIBRARY_PATH="$U/lib" ./embed "$CASE/catalog.json" "$CASE/nodes.jsonl" "$CASE/action.json" <<<"no-such-sub storage.read")
expect_eq "an unknown subscription fails closed" "no-such-sub storage.read -: deny unknown_subscription" "$out"

# ---- make uninstall ---------------------------------------------------------

if make_in "$ROOT" "${make_args[@]}" uninstall DESTDIR="$DEST" PREFIX=/usr >"$WORK/uninstall.log" 2>&1; then
    ok "make uninstall DESTDIR=... PREFIX=/usr"
else
    not_ok "make uninstall DESTDIR=... PREFIX=/usr" "$(tail -5 "$WORK/uninstall.log")"
fi
left=$(find "$DEST" ! -type d)
expect_eq "uninstall leaves no file behind" "" "$left"
[ ! -d "$DOC" ] && ok "uninstall removes the documentation directory" \
    || not_ok "uninstall removes the documentation directory" "$(find "$DOC")"

finish
