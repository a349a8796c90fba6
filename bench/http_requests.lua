-- SPDX-License-Identifier: Apache-2.0
-- A wrk script for bench/http.sh: sends the requests listed in a file, in
-- turn, over and over. Every line of the file is one request, fields
-- separated by tabs:
--
--   METHOD  PATH  BODY  [HEADER: VALUE ...]
--
-- BODY is "-" for none; a body is sent as application/json. The requests
-- are formatted once, in init, so that wrk spends no more time per
-- request than with a fixed one.
--
--   wrk -t1 -c32 -d10s --latency -s bench/http_requests.lua URL -- FILE

local requests = {}
local count = 0
local next_index = 0

local function split(line)
    local fields = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do
        fields[#fields + 1] = field
    end
    return fields
end

function init(args)
    local path = args[1]
    if path == nil then
        error("http_requests.lua: give the requests file after --")
    end
    for line in io.lines(path) do
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
        error("http_requests.lua: no requests in " .. path)
    end
end

function request()
    next_index = next_index % count + 1
    return requests[next_index]
end
