-- wrk script: send DEPTH (first script argument, default 16) requests for the URL's path in one
-- write on each connection, so that they reach the server pipelined.  wrk counts each response.
local depth = 16

init = function(args)
    depth = tonumber(args[1]) or depth
    local reqs = {}
    for i = 1, depth do
        reqs[i] = wrk.format(nil)
    end
    batch = table.concat(reqs)
end

request = function()
    return batch
end
