"""Talking to registries: the network guard, URL rules, TLS connections, the HTTP clients and
rate limits.

One lookup's request: ``client.RetryingGetter`` (redirects, retries, budget, body) over
``direct`` (every lookup without a proxy: stdlib HTTP/1.1, ``http1``) or ``proxied``
(only when ``proxy_env`` finds HTTP(S)_PROXY: httpx over ``proxied_transport`` and
``proxied_backend``); both check URLs with ``urls`` and ``guard``, connect through
``connect`` (resolve once, check every address, TLS, pins) and wait at ``ratelimit``.
"""
