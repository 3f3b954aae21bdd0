package io.fluxgate.security;

import java.util.List;
import java.util.Locale;

import org.springframework.core.env.Environment;

/**
 * Secrets that are examples rather than secrets: the placeholders our own manifests and docs ship
 * with, and the usual stand-ins. Outside the dev profile, start-up refuses them.
 */
public final class Placeholders {

    private static final List<String> MARKERS = List.of("replace_me", "replace-me", "replaceme", "changeme",
            "change_me", "change-me", "placeholder", "example", "your-secret", "secret-here");
    /** A real secret (say 48 random bytes in base64) uses far more distinct characters than this. */
    private static final int MIN_DISTINCT_CHARACTERS = 10;

    private Placeholders() {
    }

    public static boolean looksLikePlaceholder(String value) {
        String lower = value.toLowerCase(Locale.ROOT);
        return MARKERS.stream().anyMatch(lower::contains)
                || (!value.isEmpty() && value.chars().distinct().count() < MIN_DISTINCT_CHARACTERS);
    }

    public static boolean isDevProfile(Environment environment) {
        return environment.matchesProfiles("dev | local");
    }
}
