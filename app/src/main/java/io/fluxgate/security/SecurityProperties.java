package io.fluxgate.security;

import java.time.Duration;
import java.util.List;
import java.util.Locale;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Token and password settings ({@code fluxgate.security.*}, {@code FLUXGATE_SECURITY_*}).
 *
 * @param jwtSecret HS256 signing secret, at least 32 bytes; required outside the dev profile
 * @param tokenTtl how long an issued token stays valid
 * @param issuer the {@code iss} claim written and required
 * @param adminEmails users with these emails get the ADMIN role in the tokens issued at login
 * @param bcryptCost bcrypt work factor for new password hashes
 */
@ConfigurationProperties("fluxgate.security")
public record SecurityProperties(
        @DefaultValue("") String jwtSecret,
        Duration tokenTtl,
        String issuer,
        @DefaultValue List<String> adminEmails,
        int bcryptCost) {

    public boolean isAdminEmail(String email) {
        String normalized = email.strip().toLowerCase(Locale.ROOT);
        return adminEmails.stream().anyMatch(admin -> admin.strip().toLowerCase(Locale.ROOT).equals(normalized));
    }
}
