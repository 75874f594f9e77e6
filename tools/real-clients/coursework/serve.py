#!/usr/bin/env python3
"""Static server for the built SPA with fallback to index.html.
usage: serve.py DIR [PORT]   (PORT 0 = pick free port; prints 'serving on http://ADDR')"""
import http.server, os, sys, functools

class SPAHandler(http.server.SimpleHTTPRequestHandler):
    def send_head(self):
        path = self.translate_path(self.path)
        if not os.path.exists(path):
            self.path = "/index.html"
        return super().send_head()
    def log_message(self, fmt, *args):
        sys.stderr.write("[static] " + (fmt % args) + "\n")

def main():
    d = sys.argv[1]; port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(SPAHandler, directory=d))
    print(f"serving on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    srv.serve_forever()

if __name__ == "__main__":
    main()
