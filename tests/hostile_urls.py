"""A generated set of hostile image URLs for the quick-test sweeps (pipeline and localvision).

Every host either cannot resolve (``.invalid`` never does, RFC 6761), is malformed, or is a literal
non-public address, so a sweep never connects anywhere: each URL must end in a clear 4xx.
"""

from __future__ import annotations

import random

SCHEMES = ["http", "https", "HTTP", "ftp", "file", "javascript", "gopher", ""]
USERINFO = ["", "", "", "user:secret@", "@", ":@"]
HOSTS = [
    "a" * 64 + ".invalid",  # a label over 63 characters
    "b" * 63 + "." + "c" * 200 + ".invalid",
    "a..b",  # an empty label
    ".",
    "..",
    ".lead.invalid",
    "a" * 300,
    "-dash.invalid",
    "\u00e9t\u00e9.invalid",
    "\u200d.invalid",  # a zero-width joiner: IDNA refuses it
    "\udcff.invalid",  # a lone surrogate
    "xn--.invalid",
    "xn--zz.invalid",
    "%00",
    "a%0ab.invalid",
    "a\x00b.invalid",
    "a b.invalid",
    "a\u3002\u3002b",  # ideographic full stops: empty labels after IDNA mapping
    "[::1",
    "[zz]",
    "[fe80::1%25eth0]",
    "[::1]",
    "[::127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b:1::a9fe:a9fe]",
    "[2002:7f00:1::]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
    "127.0.0.1",
    "127.1",
    "0x7f.1",
    "2130706433",
    "0177.0.0.1",
    "169.254.169.254",
    "10.0.0.1",
    "0.0.0.0",
    "localhost",
    "",
]
PORTS = ["", "", ":0", ":65536", ":-1", ":abc", ":99999999999999999999", ":80", ":443", ":"]
PATHS = ["/", "/x.jpg", "/%00", "/a\nb", "/a\r\nX-Injected: 1", "/ spaced", "?q=%0d%0a", "#frag", "/\u00e9"]


def hostile_urls(count: int = 300, seed: int = 20261130) -> list[str]:
    """The issue's cases, every host once over http, then ``count`` random combinations."""
    urls = ["http://" + "a" * 64 + ".com/x.jpg", "http://a..b/", "http://[::1", "http:///x.jpg", "http:"]
    urls += [f"http://{host}/x.jpg" for host in HOSTS]
    rng = random.Random(seed)
    for _ in range(count):
        scheme = rng.choice(SCHEMES)
        urls.append(
            f"{scheme}://{rng.choice(USERINFO)}{rng.choice(HOSTS)}{rng.choice(PORTS)}{rng.choice(PATHS)}"
        )
    return urls
