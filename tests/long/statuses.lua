-- SPDX-License-Identifier: Apache-2.0
-- A wrk script for tests/integration/load_change.sh: sends the requests
-- listed in a file in turn (the format of bench/http_requests.lua: one
-- request a line, METHOD<TAB>PATH<TAB>BODY or -<TAB>[HEADER: VALUE ...])
-- and counts the answers by status, so that a test can tell the statuses
-- it expects (a deny is 403 or 451 on /v1/authz) from failures. Prints
-- one line "status CODE COUNT" per status at the end.
--
--   wrk -t1 -c16 -d60s -s tests/long/statuses.lua URL -- FILE

local requests = {}
local count = 0
local next_index = 0
local threads = {}
statuses = {}

local function split(line)
    local fields = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do
        fields[#fields + 1] = field
    end
    return fields
end

function setup(thread)
    threads[#threads + 1] = thread
end

function init(args)
    for line in io.lines(args[1]) do
        local f = split(line)
        if #f >= 3 then
            local headers = {}
            for k = 4, #f do
                local name, value = f[k]:match("^([^:]+):%s*(.*)$")
                if name then
                    headers[name] = value
                end
            end
            local body = nil
            if f[3] ~= "-" then
                body = f[3]
                headers["Content-Type"] = "application/json"
            end
            count = count + 1
            requests[count] = wrk.format(f[1], f[2], headers, body)
        end
    end
    if count == 0 then
        error("statuses.lua: no requests in " .. args[1])
    end
end

function request()
    next_index = next_index % count + 1
    return requests[next_index]
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local total = {}
    for _, thread in ipairs(threads) do
        for code, n in pairs(thread:get("statuses")) do
            total[code] = (total[code] or 0) + n
        end
    end
    for code, n in pairs(total) do
        io.write(string.format("status %d %d\n", code, n))
    end
end
