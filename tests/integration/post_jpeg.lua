-- post_jpeg.lua - wrk posts the JPEG named by $KC_JPEG on every request
-- (test_find_cpu.sh: the closed-loop capacity of jpeg_server).
wrk.method = "POST"
wrk.headers["Content-Type"] = "image/jpeg"
local f = assert(io.open(os.getenv("KC_JPEG"), "rb"))
wrk.body = f:read("*a")
f:close()
