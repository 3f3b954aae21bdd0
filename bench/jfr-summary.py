#!/usr/bin/env python3
"""Where a Flight Recording's CPU samples went: each sample charged to the layer that did the work,
the share of samples whose stack passes through each area, and the top methods by own time.

    jfr print --stack-depth 512 --json --events jdk.ExecutionSample recording.jfr > samples.json
    python3 bench/jfr-summary.py samples.json

A sample is charged to the first frame, from the leaf up, that belongs to a named layer: JDK and
Reactor operator frames are charged to the code that called them (a Mono.map assembled by Spring
Security is Spring Security's cost). Reactive stacks are deep and the recording keeps 512 frames at
most, so "passing through" undercounts the outer layers; the charged shares do not depend on depth.
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

# Layers a sample is charged to, first match from the leaf; what matches none is "JDK/Reactor only".
LAYERS = [
    ("Fluxgate code", ("io.fluxgate.",)),
    ("Spring Security", ("org.springframework.security.",)),
    ("Micrometer", ("io.micrometer.", "org.springframework.http.server.reactive.observation.",
                    "org.springframework.web.filter.reactive.ServerHttpObservationFilter")),
    ("Jackson", ("tools.jackson.", "com.fasterxml.jackson.", "org.springframework.http.codec.json.",
                 "org.springframework.http.codec.AbstractJackson")),
    ("Lettuce", ("io.lettuce.",)),
    ("R2DBC", ("io.r2dbc.",)),
    ("Caffeine", ("com.github.benmanes.caffeine.",)),
    ("Spring WebFlux and web", ("org.springframework.web.", "org.springframework.http.", "org.springframework.core.",
                                "org.springframework.util.", "org.springframework.boot.")),
    ("Reactor Netty", ("reactor.netty.",)),
    ("Netty", ("io.netty.",)),
    ("Logging", ("org.apache.commons.logging.", "org.slf4j.", "ch.qos.logback.")),
]


def layer(stack):
    for frame in stack:
        for name, prefixes in LAYERS:
            if frame.startswith(prefixes):
                return name
    return "JDK/Reactor only"


def frames(event):
    return [(f["method"]["type"]["name"] + "." + f["method"]["name"]).replace("/", ".")
            for f in event["values"]["stackTrace"]["frames"]]


def main(path):
    events = json.load(open(path))["recording"]["events"]
    own = collections.Counter()
    charged = collections.Counter()
    areas = collections.Counter()
    threads = collections.Counter()
    for event in events:
        stack = frames(event)
        if not stack:
            continue
        own[stack[0]] += 1
        charged[layer(stack)] += 1
        threads[event["values"]["sampledThread"]["javaName"].rstrip("0123456789-")] += 1
        for area, prefixes in AREAS:
            if any(frame.startswith(prefixes) for frame in stack):
                areas[area] += 1
    total = sum(own.values())
    print(f"{total} samples")
    print("\nby thread:")
    for name, n in threads.most_common(8):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\ncharged to (first named layer from the leaf):")
    for name, n in charged.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\nstacks passing through (a sample can count in several):")
    for area, _ in AREAS:
        print(f"  {100 * areas[area] / total:5.1f}%  {area}")
    print("\ntop methods by own time:")
    for method, n in own.most_common(25):
        print(f"  {100 * n / total:5.1f}%  {method}")


if __name__ == "__main__":
    main(sys.argv[1])
