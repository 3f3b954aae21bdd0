#!/usr/bin/env python3
"""Where a Flight Recording's CPU samples went: the top methods by own time, and the share of samples
whose stack passes through each area of the request path.

    jfr print --json --events jdk.ExecutionSample recording.jfr > samples.json
    python3 bench/jfr-summary.py samples.json
"""
import collections
import json
import sys

AREAS = [
    ("JWT verification (Nimbus)", ("com.nimbusds.",)),
    ("Spring Security filter chain", ("org.springframework.security.",)),
    ("JSON (Jackson)", ("tools.jackson.", "com.fasterxml.jackson.")),
    ("Redis (Lettuce)", ("io.lettuce.",)),
    ("PostgreSQL (R2DBC)", ("io.r2dbc.",)),
    ("Micrometer observations/metrics", ("io.micrometer.",)),
    ("Caffeine", ("com.github.benmanes.caffeine.",)),
    ("WebFlux routing and handlers", ("org.springframework.web.reactive.", "org.springframework.web.server.")),
    ("HTTP codec and socket I/O (Netty)", ("io.netty.handler.codec.http.", "io.netty.channel.epoll.", "io.netty.channel.nio.", "sun.nio.ch.")),
    ("Fluxgate code", ("io.fluxgate.",)),
]


def frames(event):
    return [(f["method"]["type"]["name"] + "." + f["method"]["name"]).replace("/", ".")
            for f in event["values"]["stackTrace"]["frames"]]


def main(path):
    events = json.load(open(path))["recording"]["events"]
    own = collections.Counter()
    areas = collections.Counter()
    threads = collections.Counter()
    for event in events:
        stack = frames(event)
        if not stack:
            continue
        own[stack[0]] += 1
        threads[event["values"]["sampledThread"]["javaName"].rstrip("0123456789-")] += 1
        for area, prefixes in AREAS:
            if any(frame.startswith(prefixes) for frame in stack):
                areas[area] += 1
    total = sum(own.values())
    print(f"{total} samples")
    print("\nby thread:")
    for name, n in threads.most_common(8):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\nstacks passing through (a sample can count in several):")
    for area, _ in AREAS:
        print(f"  {100 * areas[area] / total:5.1f}%  {area}")
    print("\ntop methods by own time:")
    for method, n in own.most_common(25):
        print(f"  {100 * n / total:5.1f}%  {method}")


if __name__ == "__main__":
    main(sys.argv[1])
