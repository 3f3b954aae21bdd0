package io.fluxgate.profiles;

import java.time.Instant;
import java.util.List;

import org.springframework.data.annotation.Id;
import org.springframework.data.mongodb.core.geo.GeoJsonPoint;
import org.springframework.data.mongodb.core.mapping.Document;

/**
 * A profile as stored. {@code password} holds a bcrypt hash and is excluded from every read by
 * default (see {@link ProfileRepository}); it never reaches a response.
 *
 * @param ownerId the user who created it: only that user or an admin may change or delete it
 * @param posts and {@code followers}: activity counters, used by the "top" ranking
 */
@Document("profiles")
public record Profile(
        @Id String id,
        Long ownerId,
        String name,
        String email,
        String password,
        Details profile,
        Preferences preferences,
        String status,
        Instant lastActive,
        GeoJsonPoint location,
        int posts,
        int followers,
        Instant createdAt,
        Instant updatedAt) {

    public record Details(String avatar, String bio, List<SocialLink> socialLinks) {
    }

    public record SocialLink(String platform, String url) {
    }

    public record Preferences(Notifications notifications, String theme) {
    }

    public record Notifications(boolean email, boolean push) {
    }
}
