"""Sequential lookups per second of the Python RDAP peers against a local server.

Run with the interpreter of a SEPARATE venv holding the peers (never the project's):
``/tmp/peers-venv/bin/python benchmarks/bench_peers.py PORT N`` prints one JSON
object {peer: lookups per second or an error string}. Each peer is pointed at
``http://127.0.0.1:PORT/`` through its own configuration (bootstrap data written
here, never fetched), and asked for the same generated ``benchN.com`` names.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable


def timed(fn: Callable[[str], object], names: list[str]) -> float:
    fn(names[0])  # warm up: connections, lazy imports
    start = time.perf_counter()
    for name in names:
        fn(name)
    return len(names) / (time.perf_counter() - start)


def rdap_20c(base: str) -> Callable[[str], object]:
    from rdap import RdapClient

    client = RdapClient(config={"bootstrap_url": base, "self_bootstrap": False})
    return client.get_domain


def iana_dns(base: str) -> dict[str, object]:
    return {
        "version": "1.0",
        "publication": "2026-01-01T00:00:00Z",
        "services": [[["com"], [base]]],
    }


def whodap_peer(base: str) -> Callable[[str], object]:
    import httpx2
    import whodap

    client = whodap.DNSClient(httpx2.Client())
    client._set_iana_info(iana_dns(base))
    return lambda name: client.lookup(name.rsplit(".", 1)[0], "com")


def asyncwhois_peer(base: str) -> Callable[[str], object]:
    import asyncwhois
    import httpx2
    import whodap

    client = whodap.DNSClient(httpx2.Client())
    client._set_iana_info(iana_dns(base))
    from tldextract import TLDExtract

    # The bundled suffix list only: tldextract must not fetch it (no traffic leaves).
    extract = TLDExtract(suffix_list_urls=(), cache_dir=None)
    return lambda name: asyncwhois.rdap(name, whodap_client=client, tldextract_obj=extract)


def whoisit_peer(base: str) -> Callable[[str], object]:
    import whoisit

    services = {
        "asn": [[["1-4294967295"], [base]]],
        "dns": [[["com"], [base]]],
        "ipv4": [[["0.0.0.0/0"], [base]]],
        "ipv6": [[["::/0"], [base]]],
        "object": [[["x"], ["ARIN"], [base]]],
    }
    data: dict[str, object] = {"timestamp": int(time.time())}
    for name, svc in services.items():
        data[name] = {"version": "1.0", "publication": "2026-01-01T00:00:00Z", "services": svc}
    whoisit.load_bootstrap_data(json.dumps(data), allow_insecure=True)
    return whoisit.domain


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    base = f"http://127.0.0.1:{port}/"
    names = [f"bench{i}.com" for i in range(count)]
    out: dict[str, object] = {}
    peers = {
        "rdap (20c)": rdap_20c,
        "whodap": whodap_peer,
        "asyncwhois": asyncwhois_peer,
        "whoisit": whoisit_peer,
    }
    for label, make in peers.items():
        try:
            out[label] = timed(make(base), names)
        except Exception as exc:  # report why a peer could not run, and go on
            out[label] = f"{type(exc).__name__}: {str(exc)[:200]}"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
