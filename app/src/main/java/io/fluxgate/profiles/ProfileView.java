package io.fluxgate.profiles;

import java.time.Instant;

/**
 * A profile as clients see it: no password field at all, plus the {@code fullProfile} virtual
 * ("Name &lt;email&gt;").
 */
record ProfileView(
        String id,
        String name,
        String email,
        Profile.Details profile,
        Profile.Preferences preferences,
        String status,
        Instant lastActive,
        Location location,
        int posts,
        int followers,
        String fullProfile,
        Instant createdAt,
        Instant updatedAt) {

    record Location(double lng, double lat) {
    }

    static ProfileView of(Profile profile) {
        return new ProfileView(profile.id(), profile.name(), profile.email(), profile.profile(), profile.preferences(),
                profile.status(), profile.lastActive(),
                profile.location() == null ? null : new Location(profile.location().getX(), profile.location().getY()),
                profile.posts(), profile.followers(), profile.name() + " <" + profile.email() + ">",
                profile.createdAt(), profile.updatedAt());
    }
}
