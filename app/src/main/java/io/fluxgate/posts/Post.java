package io.fluxgate.posts;

import java.time.Instant;

public record Post(long id, long authorId, String title, String body, Instant createdAt, Instant updatedAt) {
}
