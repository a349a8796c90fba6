-- SPDX-License-Identifier: Apache-2.0
-- A wrk script for bench/fleet.sh: decision load spread over several
-- cutoffd, one wrk thread per node (wrk connects each thread to one
-- address). Every request is the same POST /v1/check with the body in
-- FLEET_BODY; the nodes are the decision ports in FLEET_PORTS (separated by
-- spaces), all on 127.0.0.1. Give -t as many threads as there are ports.
--
--   FLEET_PORTS="8001 8002" FLEET_BODY='{...}' \
--       wrk -t2 -c8 -d10s -s bench/fleet_load.lua http://127.0.0.1:8001

local ports = {}
for p in (os.getenv("FLEET_PORTS") or ""):gmatch("%d+") do
    ports[#ports + 1] = p
end
local started = 0

function setup(thread)
    if #ports == 0 then
        error("fleet_load.lua: FLEET_PORTS names no port")
    end
    started = started + 1
    local port = ports[(started - 1) % #ports + 1]
    thread.addr = wrk.lookup("127.0.0.1", port)[1]
end

local req

function init(args)
    local body = os.getenv("FLEET_BODY")
    if body == nil or body == "" then
        error("fleet_load.lua: FLEET_BODY is empty")
    end
    req = wrk.format("POST", "/v1/check", {["Content-Type"] = "application/json"}, body)
end

function request()
    return req
end
