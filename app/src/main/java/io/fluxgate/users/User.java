package io.fluxgate.users;

import java.time.Instant;

/** A user as clients see it. There is deliberately no password field: hashes never leave the repository. */
public record User(
        long id,
        String name,
        String email,
        String status,
        String avatar,
        String bio,
        Instant lastActive,
        Instant createdAt,
        Instant updatedAt) {
}
