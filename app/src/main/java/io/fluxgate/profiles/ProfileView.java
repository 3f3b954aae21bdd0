package io.fluxgate.profiles;

import java.time.Instant;

/**
 * A profile as clients see it: no password field at all, its owner, and the seed's {@code fullProfile}
 * virtual ({@code {name, email, avatar, bio}}).
 *
 * @param ownerId the user who created it; null for profiles created before ownership was recorded
 *        (only admins may change those)
 */
record ProfileView(
        String id,
        Long ownerId,
        String name,
        String email,
        Profile.Details profile,
        Profile.Preferences preferences,
        String status,
        Instant lastActive,
        Location location,
        int posts,
        int followers,
        FullProfile fullProfile,
        Instant createdAt,
        Instant updatedAt) {

    record Location(double lng, double lat) {
    }

    record FullProfile(String name, String email, String avatar, String bio) {
    }

    static ProfileView of(Profile profile) {
        Profile.Details details = profile.profile();
        return new ProfileView(profile.id(), profile.ownerId(), profile.name(), profile.email(), details,
                profile.preferences(), profile.status(), profile.lastActive(),
                profile.location() == null ? null : new Location(profile.location().getX(), profile.location().getY()),
                profile.posts(), profile.followers(),
                new FullProfile(profile.name(), profile.email(), details == null ? null : details.avatar(),
                        details == null ? null : details.bio()),
                profile.createdAt(), profile.updatedAt());
    }
}
