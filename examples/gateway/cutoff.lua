-- SPDX-License-Identifier: Apache-2.0
--
-- cutoff.lua: an HAProxy (2.6 and later) action that asks cutoffd about
-- every request before HAProxy forwards it, through HAProxy's own HTTP
-- client. Loaded and used by haproxy.cfg in this folder:
--
--     global
--         lua-load /etc/haproxy/cutoff.lua
--     frontend gateway
--         http-request lua.cutoff_check http://127.0.0.1:8080 2000
--         http-request deny deny_status 503 unless { var(txn.cutoff_decision) -m str allow }
--
-- The arguments: cutoffd's decision listener, and how long to wait for its
-- answer in milliseconds. Header convention: "nginx" (X-Original-Method,
-- X-Original-URI), cutoffd.json's default. The check is built here from
-- the request line, so no header of the client's reaches cutoffd.
--
-- An allow (2xx) sets txn.cutoff_decision to "allow" and gives the upstream
-- cutoffd's Cutoff-Decision and Cutoff-Reason in place of any the client
-- sent. A denial is answered here with cutoffd's status (403 or 451), its
-- application/problem+json body and its Cutoff-* and Link headers.
-- cutoffd unreachable, slow or answering nonsense: 503, nothing forwarded.
-- The deny rule after the action is what makes this fail closed: HAProxy
-- goes on with a request whose Lua action failed or ran out of time, and
-- only an allow sets the variable.

-- Headers of cutoffd's answer that a denial passes to the client.
local function relayed(name)
    return name == "content-type" or name == "link" or name:sub(1, 7) == "cutoff-"
end

-- The values of a header in HAProxy's tables, which count from 0.
local function each_value(values, fn)
    local i = 0
    while values and values[i] do
        fn(values[i])
        i = i + 1
    end
end

local function refuse(txn, detail)
    local reply = txn:reply{ status = 503 }
    reply:add_header("content-type", "application/problem+json")
    reply:add_header("cutoff-decision", "deny")
    reply:set_body('{"type":"about:blank","title":"Service Unavailable","status":503,' ..
        '"detail":"' .. detail .. '"}')
    txn:done(reply)
end

local function check(txn, cutoffd, timeout_ms)
    txn:unset_var("txn.cutoff_decision")
    local sent, answer = pcall(function()
        return core.httpclient():get{
            url = cutoffd .. "/v1/authz",
            headers = {
                ["x-original-method"] = { txn.sf:method() },
                -- The path and query exactly as the client sent them (also
                -- for an absolute-form request), as the upstream gets them.
                ["x-original-uri"] = { txn.sf:pathq() },
                ["x-request-id"] = { txn.sf:uuid() },
            },
            timeout = tonumber(timeout_ms),
        }
    end)
    local status = sent and answer and tonumber(answer.status) or 0
    if status >= 200 and status < 300 then
        txn:set_var("txn.cutoff_decision", "allow")
        for _, name in ipairs{ "cutoff-decision", "cutoff-reason" } do
            txn.http:req_del_header(name)
            each_value(answer.headers and answer.headers[name],
                function(value) txn.http:req_add_header(name, value) end)
        end
        return
    end
    -- A 5xx (HAProxy's client answers 503 itself when cutoffd cannot be
    -- reached) or anything but a 4xx: refused, without cutoffd's body.
    if status < 400 or status >= 500 then
        refuse(txn, "cutoffd could not be asked; denying")
        return
    end
    local reply = txn:reply{ status = status }
    for name, values in pairs(answer.headers or {}) do
        if relayed(name:lower()) then
            each_value(values, function(value) reply:add_header(name, value) end)
        end
    end
    reply:set_body(answer.body or "")
    txn:done(reply)
end

core.register_action("cutoff_check", { "http-req" }, check, 2)
