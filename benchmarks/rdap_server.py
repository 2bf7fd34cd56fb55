"""A fast loopback RDAP server for benchmarks: generated ~6 KB domain objects.

``python benchmarks/rdap_server.py --port 0 [--delay-ms 50]`` prints the port it
listens on. Used by every benchmark; serves 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def domain_object(name: str) -> bytes:
    """A realistic registry answer (~6 KB) with two contacts carrying PII."""
    contacts = []
    for i, role in enumerate(("registrant", "technical")):
        contacts.append(
            {
                "objectClassName": "entity",
                "handle": f"C{i}-{name.upper()}",
                "roles": [role],
                "vcardArray": [
                    "vcard",
                    [
                        ["version", {}, "text", "4.0"],
                        ["fn", {}, "text", f"Contact {i} of {name}"],
                        ["org", {}, "text", "Example Holdings"],
                        [
                            "adr",
                            {},
                            "text",
                            ["", "", "1 Main St", "Springfield", "", "12345", "US"],
                        ],
                        ["email", {}, "text", f"hostmaster{i}@{name}"],
                        ["tel", {"type": "voice"}, "uri", "tel:+1.5555550100"],
                    ],
                ],
            }
        )
    obj = {
        "objectClassName": "domain",
        "rdapConformance": ["rdap_level_0", "icann_rdap_response_profile_0"],
        "handle": f"D{abs(hash(name)) % 10**9}-COM",
        "ldhName": name.upper(),
        "status": ["client transfer prohibited", "server delete prohibited"],
        "events": [
            {"eventAction": "registration", "eventDate": "1997-09-15T04:00:00Z"},
            {"eventAction": "expiration", "eventDate": "2028-09-14T04:00:00Z"},
            {"eventAction": "last changed", "eventDate": "2019-09-09T15:39:04Z"},
        ],
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": f"NS{i}.EXAMPLE.NET"} for i in range(1, 5)
        ],
        "secureDNS": {"delegationSigned": False},
        "entities": contacts,
        "links": [
            {
                "value": f"https://rdap.example/domain/{name}",
                "rel": "self",
                "href": f"https://rdap.example/domain/{name}",
                "type": "application/rdap+json",
            }
        ],
        "notices": [
            {
                "title": "Terms of Use",
                "description": ["Service subject to Terms of Use. " * 20],
                "links": [{"href": "https://www.example/terms", "type": "text/html"}],
            },
            {
                "title": "Status Codes",
                "description": ["For more information on domain status codes " * 15],
            },
        ],
    }
    return json.dumps(obj).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay_s = 0.0

    def do_GET(self) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)
        name = self.path.rsplit("/", 1)[-1] or "example.com"
        body = domain_object(name)
        self.send_response(200)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def serve(port: int, delay_ms: float) -> socketserver.BaseServer:
    Handler.delay_s = delay_ms / 1000
    return Server(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    server = serve(args.port, args.delay_ms)
    print(server.server_address[1], flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
