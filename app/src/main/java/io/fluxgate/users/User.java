package io.fluxgate.users;

import java.time.Instant;
import java.util.List;

/** A user as clients see it. There is deliberately no password field: hashes never leave the repository. */
public record User(
        long id,
        String name,
        String email,
        String status,
        List<String> roles,
        String avatar,
        String bio,
        Instant lastActive,
        Instant createdAt,
        Instant updatedAt) {
}
